-- Votes on answers (ChatKit items.feedback). One row per (item, user): voting again replaces
-- the earlier vote, so a user's latest vote is the one that counts. A vote goes with its item
-- (deleting a thread or an item deletes its votes): the report needs the answer it is about.
CREATE TABLE feedback (
    item_id text NOT NULL,
    user_id text NOT NULL,
    thread_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('positive', 'negative')),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- When the latest vote was cast.
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, user_id),
    FOREIGN KEY (thread_id, item_id) REFERENCES items (thread_id, id) ON DELETE CASCADE
);
-- The report: recent down-votes, newest first.
CREATE INDEX feedback_negative_recent ON feedback (updated_at DESC) WHERE kind = 'negative';
-- Deleting items finds their votes through this, not by scanning every vote.
CREATE INDEX feedback_item ON feedback (thread_id, item_id);
