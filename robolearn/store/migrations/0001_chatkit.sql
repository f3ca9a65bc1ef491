-- ChatKit threads, items and attachments. Every row is owned by one user; items inherit the
-- owner of their thread. JSON payloads are stored verbatim so they round-trip exactly.
CREATE TABLE threads (
    id text PRIMARY KEY,
    user_id text NOT NULL,
    -- Listing order: a monotonic sequence, because created_at values can tie.
    seq bigint GENERATED ALWAYS AS IDENTITY,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX threads_user_seq ON threads (user_id, seq);

CREATE TABLE items (
    thread_id text NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    id text NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (thread_id, id)
);
CREATE UNIQUE INDEX items_thread_seq ON items (thread_id, seq);

CREATE TABLE attachments (
    id text PRIMARY KEY,
    user_id text NOT NULL,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_user ON attachments (user_id);
