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
-- by the process streaming the answer on a connection of its own. This takes up to `wanted`
-- of the user's `cap` slots that no session holds, skipping those the calling session holds
-- already (advisory locks are re-entrant within a session: taking one again would succeed),
-- and returns their numbers: fewer than `wanted` when the cap is reached. A loop, so it
-- stops at the last lock it needs: a query with pg_try_advisory_lock in its WHERE may lock
-- more rows than it returns.
CREATE FUNCTION robolearn_take_slots(
    space integer, user_key integer, cap integer, held integer[], wanted integer
) RETURNS integer[] LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    taken integer[] := '{}';
BEGIN
    FOR k IN 0 .. cap - 1 LOOP
        EXIT WHEN cardinality(taken) >= wanted;
        CONTINUE WHEN k = ANY (held);
        IF pg_try_advisory_lock(space + k, user_key) THEN
            taken := taken || k;
        END IF;
    END LOOP;
    RETURN taken;
END
$$;
