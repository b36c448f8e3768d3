-- Issue 13, P4: qbo_take_slot looked for the ring's (N - headroom)th latest stamp on every take,
-- walking that many index entries (1,330 buffer hits a take, 1.58 ms, in bench_sync). While the
-- ring has seen fewer takes than that (its head), no such stamp exists: skip the walk. The
-- heads and the stamps are both UNLOGGED and lose their rows together, so the head never
-- undercounts the stamps.
CREATE OR REPLACE FUNCTION qbo_take_slot(
    p_realm text,
    p_holder text,
    p_lease_seconds float8,
    p_capacity integer,
    p_keep_free integer,
    p_kinds text[],
    p_sizes integer[],
    p_windows float8[],
    p_headroom integer[],
    p_release_realms text[],
    p_release_slots integer[],
    p_release_holders text[],
    p_release_keep_slot boolean[],
    p_background boolean,
    p_lend_after float8
) RETURNS TABLE (slot integer, wait_seconds float8)
LANGUAGE plpgsql AS $$
DECLARE
    now_ timestamptz;
    blocked timestamptz;
    real_time timestamptz;
    lend boolean := false;
    longest float8 := 0;
    unanswered boolean := false;
    heads bigint[] := '{}';
    h bigint;
    room integer;
    stamp timestamptz;
    free_slot integer;
    free_count integer;
    i integer;
BEGIN
    -- Requests this process had answered since its last call (saves a statement of their own).
    PERFORM qbo_answered(p_release_realms, p_release_slots, p_release_holders, p_release_keep_slot);

    SELECT l.blocked_until, l.real_time_at INTO blocked, real_time FROM qbo_realm_limits AS l
     WHERE l.realm_id = p_realm FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO qbo_realm_limits (realm_id) VALUES (p_realm) ON CONFLICT DO NOTHING;
        INSERT INTO qbo_inflight_slots (realm_id, slot)
        SELECT p_realm, g FROM generate_series(0, p_capacity - 1) AS g ON CONFLICT DO NOTHING;
        SELECT l.blocked_until, l.real_time_at INTO blocked, real_time FROM qbo_realm_limits AS l
         WHERE l.realm_id = p_realm FOR UPDATE;
    END IF;
    now_ := clock_timestamp();
    -- Real-time work asking (whether it gets a slot or not) takes its reserve back at once;
    -- background work may use the reserve after p_lend_after seconds without any.
    IF NOT p_background THEN
        IF real_time IS NULL OR real_time < now_ - interval '1 second' THEN
            UPDATE qbo_realm_limits AS l SET real_time_at = now_ WHERE l.realm_id = p_realm;
        END IF;
    ELSIF p_lend_after IS NOT NULL THEN
        lend := real_time IS NULL OR real_time < now_ - make_interval(secs => p_lend_after);
    END IF;
    IF blocked > now_ THEN
        RETURN QUERY SELECT NULL::integer, extract(epoch FROM blocked - now_)::float8;
        RETURN;
    END IF;

    -- Each ring of size N holds the last N takes. A take may go when fewer than N - headroom
    -- of them still count (the (N - headroom)th latest stamp has left the window) and the take
    -- it overwrites counts no more (so nothing forgotten still counts). A blocking stamp still
    -- in the future is a request not answered yet: poll (its answer frees it), else wait for
    -- it to leave the window.
    FOR i IN 1 .. coalesce(array_length(p_kinds, 1), 0) LOOP
        SELECT r.head INTO h FROM qbo_rate_heads AS r
         WHERE r.realm_id = p_realm AND r.kind = p_kinds[i];
        h := coalesce(h, 0);
        heads := heads || h;
        room := p_sizes[i] - CASE WHEN lend THEN 0 ELSE p_headroom[i] END;
        IF room <= 0 THEN
            longest := greatest(longest, p_windows[i]);
            CONTINUE;
        END IF;
        -- Fewer takes than `room` so far (h counts them): no (room)th latest stamp, and no
        -- stamp at the position this take overwrites (h < room <= N); nothing to walk.
        IF h < room THEN
            CONTINUE;
        END IF;
        FOR stamp IN
            SELECT r.arrives_by FROM qbo_rate_sends AS r
             WHERE r.realm_id = p_realm AND r.kind = p_kinds[i] AND r.pos = h % p_sizes[i]
            UNION ALL
            (SELECT r.arrives_by FROM qbo_rate_sends AS r
              WHERE r.realm_id = p_realm AND r.kind = p_kinds[i]
              ORDER BY r.arrives_by DESC OFFSET room - 1 LIMIT 1)
        LOOP
            IF stamp > now_ THEN
                unanswered := true;
            ELSIF stamp > now_ - make_interval(secs => p_windows[i]) THEN
                longest := greatest(longest, extract(epoch FROM
                    stamp + make_interval(secs => p_windows[i]) - now_)::float8);
            END IF;
        END LOOP;
    END LOOP;
    IF longest > 0 THEN
        RETURN QUERY SELECT NULL::integer, longest;
        RETURN;
    END IF;
    IF unanswered THEN
        RETURN QUERY SELECT NULL::integer, 0::float8;  -- poll
        RETURN;
    END IF;

    SELECT count(*)::integer, min(s.slot) INTO free_count, free_slot FROM qbo_inflight_slots AS s
     WHERE s.realm_id = p_realm AND s.slot < p_capacity
       AND (s.holder IS NULL OR s.leased_until < now_);
    IF free_count <= p_keep_free THEN
        IF (SELECT count(*) FROM qbo_inflight_slots AS s
             WHERE s.realm_id = p_realm AND s.slot < p_capacity) < p_capacity THEN
            -- Crash recovery emptied the slot table (UNLOGGED): make the realm's rows again.
            INSERT INTO qbo_inflight_slots (realm_id, slot)
            SELECT p_realm, g FROM generate_series(0, p_capacity - 1) AS g ON CONFLICT DO NOTHING;
        END IF;
        RETURN QUERY SELECT NULL::integer, 0::float8;  -- every slot taken: poll
        RETURN;
    END IF;

    UPDATE qbo_inflight_slots AS s
       SET holder = p_holder, leased_until = now_ + make_interval(secs => p_lease_seconds)
     WHERE s.realm_id = p_realm AND s.slot = free_slot;
    -- Counted as arriving up to the end of its lease until its answer says otherwise.
    FOR i IN 1 .. coalesce(array_length(p_kinds, 1), 0) LOOP
        INSERT INTO qbo_rate_sends AS r (realm_id, kind, pos, arrives_by, holder)
        VALUES (p_realm, p_kinds[i], (heads[i] % p_sizes[i])::integer,
                now_ + make_interval(secs => p_lease_seconds), p_holder)
        ON CONFLICT (realm_id, kind, pos)
        DO UPDATE SET arrives_by = excluded.arrives_by, holder = excluded.holder;
        INSERT INTO qbo_rate_heads AS r (realm_id, kind, head)
        VALUES (p_realm, p_kinds[i], heads[i] + 1)
        ON CONFLICT (realm_id, kind) DO UPDATE SET head = excluded.head;
    END LOOP;
    RETURN QUERY SELECT free_slot, 0::float8;
END
$$;
