-- Vector search for the textbook (pgvector), only where the extension can be had: an
-- external PostgreSQL without pgvector, or a role not allowed to create it, still migrates
-- and the tutor searches with BM25F alone. Enabling pgvector later needs this by hand:
--   CREATE EXTENSION vector;
--   ALTER TABLE rag_chunks ADD COLUMN embedding vector, ADD COLUMN embedding_model text;
-- embedding has no fixed size: each model's vectors are compared only with each other
-- (embedding_model), and ingest fills it for chunks that lack one for the configured model.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        RAISE NOTICE 'pgvector is not installed: textbook vector search stays off';
        RETURN;
    END IF;
    BEGIN
        CREATE EXTENSION IF NOT EXISTS vector;
    EXCEPTION WHEN insufficient_privilege OR feature_not_supported THEN
        RAISE NOTICE 'pgvector not enabled (%): textbook vector search stays off', SQLERRM;
        RETURN;
    END;
    ALTER TABLE rag_chunks
        ADD COLUMN IF NOT EXISTS embedding vector,
        ADD COLUMN IF NOT EXISTS embedding_model text;
END
$$;
