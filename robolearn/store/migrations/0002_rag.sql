-- The textbook the tutor searches: one row per Docusaurus page, its chunks, and a version
-- counter servers poll to know when to rebuild their in-memory index. Written only by
-- ingest (robolearn.rag), which replaces a lesson's chunks whenever the lesson changes.
CREATE TABLE rag_lessons (
    -- Docs-relative POSIX path, e.g. module-1-ros2/chapter-4-first-code/02-writing-publisher.md
    path text PRIMARY KEY,
    doc_id text NOT NULL,
    -- sha256 of the file bytes; with url and chunking it decides whether a re-ingest
    -- may leave the lesson untouched.
    content_hash text NOT NULL,
    -- How the lesson was cut into chunks; a different chunker rewrites every lesson.
    chunking text NOT NULL,
    title text NOT NULL,
    url text NOT NULL,
    module integer,
    chapter integer,
    lesson integer,
    hardware_tier integer,
    is_index boolean NOT NULL,
    description text NOT NULL,
    learning_objectives jsonb NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rag_chunks (
    lesson_path text NOT NULL REFERENCES rag_lessons (path) ON DELETE CASCADE,
    ordinal integer NOT NULL,
    heading text NOT NULL,
    text text NOT NULL,
    PRIMARY KEY (lesson_path, ordinal)
);

-- A single row: bumped by every ingest that changes something.
CREATE TABLE rag_corpus (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO rag_corpus (singleton) VALUES (true);
