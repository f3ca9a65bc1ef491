-- A thread's version: every write to the thread (its row, or one of its items) adds one, in
-- the same statement. A process taking the thread's lock (robolearn.store._thread_locks)
-- reads it to tell whether another process wrote the thread since its actor's memo was right.
-- New threads start at 1, so that 0 can stand for "no such thread".
ALTER TABLE threads ADD COLUMN version bigint NOT NULL DEFAULT 1;
