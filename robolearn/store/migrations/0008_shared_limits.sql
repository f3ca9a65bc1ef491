-- Per-user limits that hold across every process on this database (robolearn/store/_rates.py,
-- robolearn/store/_slots.py).
--
-- Request rates: one row per limited key (a user, an attachment's previews), a GCRA token
-- bucket: `tat` is the key's theoretical arrival time, the moment its bucket would be full
-- again; a row whose `tat` has passed means a full bucket, the same as no row (a sweep
-- deletes them). `allowed` is the outcome of the key's latest request, so one statement
-- both decides and says what it decided. UNLOGGED: the hottest write of the server skips
-- the WAL; a database crash empties the table, which only refills everyone's budget.
CREATE UNLOGGED TABLE rate_limits (
    key text PRIMARY KEY,
    tat timestamptz NOT NULL,
    allowed boolean NOT NULL
);

-- Stream slots: a user's k-th slot is the session advisory lock (space + k, user_key), held
-- by the process streaming the answer on a connection of its own. This takes the first of
-- `candidates` (the slots the calling session does not hold already: advisory locks are
-- re-entrant within a session) that no session holds, and returns its number, or NULL when
-- every one is taken. A function, so the loop stops at the first lock taken: a query with
-- pg_try_advisory_lock in its WHERE may lock more rows than it returns.
CREATE FUNCTION robolearn_take_slot(space integer, user_key integer, candidates integer[])
RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    k integer;
BEGIN
    FOREACH k IN ARRAY candidates LOOP
        IF pg_try_advisory_lock(space + k, user_key) THEN
            RETURN k;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
