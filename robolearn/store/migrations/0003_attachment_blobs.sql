-- Uploaded attachment bytes, apart from chatkit's attachment metadata. A row exists from the
-- moment an upload is announced (attachments.create); data arrives with the upload itself.
CREATE TABLE attachment_blobs (
    id text PRIMARY KEY,
    user_id text NOT NULL,
    mime_type text NOT NULL,
    declared_size bigint NOT NULL,
    -- A capability for preview URLs: <img> tags cannot send auth headers.
    token text NOT NULL,
    data bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    uploaded_at timestamptz
);
CREATE INDEX attachment_blobs_user ON attachment_blobs (user_id);
