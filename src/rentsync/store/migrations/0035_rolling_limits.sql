-- QuickBooks' limits as rolling windows (issue 13): the fixed-minute counter let 2 x 500 requests
-- through around a minute's edge and provoked 429s. Each limit is now a ring of the last N send
-- times per realm; a request may go when the send N places back is older than the window. One
-- function takes a slot and stamps the rings under the realm's row lock: one statement per request.
DROP TABLE qbo_rate_windows;

-- One row per realm: the lock every taker of the realm's budget holds for a moment, and the time
-- until which QuickBooks told us to wait (a 429), shared by every process.
CREATE UNLOGGED TABLE qbo_realm_limits (
    realm_id      text PRIMARY KEY,
    blocked_until timestamptz
);

-- The next send number of each ring of a realm (minute, second, batch).
CREATE UNLOGGED TABLE qbo_rate_heads (
    realm_id text NOT NULL,
    kind     text NOT NULL,
    head     bigint NOT NULL,
    PRIMARY KEY (realm_id, kind)
);

-- Send number n of a ring of size N is kept at position n % N: the ring holds the last N sends.
CREATE UNLOGGED TABLE qbo_rate_sends (
    realm_id text NOT NULL,
    kind     text NOT NULL,
    pos      integer NOT NULL,
    sent_at  timestamptz NOT NULL,
    PRIMARY KEY (realm_id, kind, pos)
);

CREATE FUNCTION qbo_take_slot(
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
    p_release_holders text[]
) RETURNS TABLE (slot integer, wait_seconds float8)
LANGUAGE plpgsql AS $$
DECLARE
    now_ timestamptz;
    blocked timestamptz;
    longest float8 := 0;
    heads bigint[] := '{}';
    h bigint;
    back bigint;
    stamp timestamptz;
    free_slot integer;
    free_count integer;
    i integer;
BEGIN
    -- Slots this process finished with since its last call (given back here to save a statement).
    UPDATE qbo_inflight_slots AS s SET holder = NULL, leased_until = NULL
      FROM unnest(p_release_realms, p_release_slots, p_release_holders) AS r(realm, slot, holder)
     WHERE s.realm_id = r.realm AND s.slot = r.slot AND s.holder = r.holder;

    SELECT l.blocked_until INTO blocked FROM qbo_realm_limits AS l
     WHERE l.realm_id = p_realm FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO qbo_realm_limits (realm_id) VALUES (p_realm) ON CONFLICT DO NOTHING;
        INSERT INTO qbo_inflight_slots (realm_id, slot)
        SELECT p_realm, g FROM generate_series(0, p_capacity - 1) AS g ON CONFLICT DO NOTHING;
        SELECT l.blocked_until INTO blocked FROM qbo_realm_limits AS l
         WHERE l.realm_id = p_realm FOR UPDATE;
    END IF;
    -- Read after the lock, so the rings' stamps follow the order in which requests were let go.
    now_ := clock_timestamp();
    IF blocked > now_ THEN
        RETURN QUERY SELECT NULL::integer, extract(epoch FROM blocked - now_)::float8;
        RETURN;
    END IF;

    -- Each ring: the send (size - headroom) places back must be older than the window.
    FOR i IN 1 .. coalesce(array_length(p_kinds, 1), 0) LOOP
        SELECT r.head INTO h FROM qbo_rate_heads AS r
         WHERE r.realm_id = p_realm AND r.kind = p_kinds[i];
        h := coalesce(h, 0);
        heads := heads || h;
        back := h - (p_sizes[i] - p_headroom[i]);
        IF p_sizes[i] - p_headroom[i] <= 0 THEN
            longest := greatest(longest, p_windows[i]);
        ELSIF back >= 0 THEN
            SELECT r.sent_at INTO stamp FROM qbo_rate_sends AS r
             WHERE r.realm_id = p_realm AND r.kind = p_kinds[i] AND r.pos = back % p_sizes[i];
            IF FOUND AND stamp > now_ - make_interval(secs => p_windows[i]) THEN
                longest := greatest(longest, extract(epoch FROM
                    stamp + make_interval(secs => p_windows[i]) - now_)::float8);
            END IF;
        END IF;
    END LOOP;
    IF longest > 0 THEN
        RETURN QUERY SELECT NULL::integer, longest;
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
    FOR i IN 1 .. coalesce(array_length(p_kinds, 1), 0) LOOP
        INSERT INTO qbo_rate_sends AS r (realm_id, kind, pos, sent_at)
        VALUES (p_realm, p_kinds[i], (heads[i] % p_sizes[i])::integer, now_)
        ON CONFLICT (realm_id, kind, pos) DO UPDATE SET sent_at = excluded.sent_at;
        INSERT INTO qbo_rate_heads AS r (realm_id, kind, head)
        VALUES (p_realm, p_kinds[i], heads[i] + 1)
        ON CONFLICT (realm_id, kind) DO UPDATE SET head = excluded.head;
    END LOOP;
    RETURN QUERY SELECT free_slot, 0::float8;
END
$$;
