-- Previews are signed, expiring links now (robolearn.chat._links): the per-attachment token,
-- a capability that never expired, is no longer written or accepted. The column stays,
-- nullable, so a server of the previous version still running beside this one during a
-- rolling upgrade can announce uploads; a later migration drops it.
ALTER TABLE attachment_blobs ALTER COLUMN token DROP NOT NULL;
-- Upload slots that never got their bytes expire: the sweep finds them by age.
CREATE INDEX attachment_blobs_pending ON attachment_blobs (created_at) WHERE data IS NULL;
