-- The declared schema of rentsync's own tables: what the migrations in migrations/ produce.
-- tests/store/test_migrations.py checks that both give the same catalogue. Update both together.

CREATE TABLE rentsync_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE diagnostic_pings (
    id           bigserial PRIMARY KEY,
    requested_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    worker_name  text
);

CREATE TABLE companies (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL CHECK (btrim(name) <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id          bigserial PRIMARY KEY,
    company_id  bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    prefix      text NOT NULL UNIQUE,
    secret_hash bytea NOT NULL,
    permissions text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    last_used_at timestamptz,
    expires_at  timestamptz
);
CREATE INDEX api_keys_company_id_idx ON api_keys (company_id);

-- The newest state of every document the rental system told us about (state-based sync: a job
-- carries only the key and reads this row when it runs).
CREATE TABLE documents (
    company_id    bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    doc_type      text NOT NULL
                  CHECK (doc_type IN ('customer', 'product', 'order', 'payment', 'refund',
                                      'payment_void', 'vendor', 'vendor_bill',
                                      'vendor_payment', 'purchase_order')),
    source_id     text NOT NULL,
    version       bigint,
    revision      bigint NOT NULL DEFAULT 1,
    body          jsonb,
    deleted_at    timestamptz,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    job_lock      text,  -- the lock its jobs take when not its own (a payment's: its order's)
    PRIMARY KEY (company_id, doc_type, source_id),
    CHECK ((body IS NULL) = (deleted_at IS NOT NULL))
);
CREATE INDEX documents_job_lock_idx ON documents (company_id, job_lock)
    WHERE job_lock IS NOT NULL;
CREATE INDEX documents_company_updated_idx
    ON documents (company_id, updated_at DESC, doc_type DESC, source_id DESC);

-- The ledger: per document, what QBO holds and how the last sync went.
CREATE TABLE sync_records (
    company_id      bigint NOT NULL,
    doc_type        text NOT NULL,
    source_id       text NOT NULL,
    state           text NOT NULL
                    CHECK (state IN ('pending', 'synced', 'skipped', 'failed', 'not_synced')),
    trigger         text NOT NULL
                    CHECK (trigger IN ('arrival', 'automatic', 'update', 'resync', 'bulk_sync')),
    last_user_action_at timestamptz,
    requested_revision bigint NOT NULL DEFAULT 0,
    qbo_entity      text,
    qbo_id          text,
    sync_token      text,
    synced_hash     text,
    synced_revision bigint,
    skip_reason     text,
    error           jsonb,
    attempts        integer NOT NULL DEFAULT 0,
    write_generation integer NOT NULL DEFAULT 0,
    failing_since   timestamptz,
    synced_at       timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    write_intent    jsonb,
    pending_since   timestamptz,  -- when the oldest change still waiting for QBO was stored
    PRIMARY KEY (company_id, doc_type, source_id),
    FOREIGN KEY (company_id, doc_type, source_id)
        REFERENCES documents (company_id, doc_type, source_id) ON DELETE CASCADE
);
CREATE INDEX sync_records_state_idx ON sync_records (company_id, state, updated_at);

CREATE TABLE sync_attempts (
    id          bigserial PRIMARY KEY,
    company_id  bigint NOT NULL,
    doc_type    text NOT NULL,
    source_id   text NOT NULL,
    revision    bigint NOT NULL,
    trigger     text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    outcome     text NOT NULL,
    detail      jsonb,
    state       text,         -- the state this outcome left (NULL before migration 0025)
    pending_since timestamptz,  -- the record's pending_since when the outcome was recorded
    FOREIGN KEY (company_id, doc_type, source_id)
        REFERENCES documents (company_id, doc_type, source_id) ON DELETE CASCADE
);
CREATE INDEX sync_attempts_document_idx ON sync_attempts (company_id, doc_type, source_id, id);
CREATE INDEX sync_attempts_company_finished_idx ON sync_attempts (company_id, finished_at);

-- Every write of a company's connection or settings gives the row a new version (migration 0079).
CREATE SEQUENCE company_read_versions;

CREATE FUNCTION company_read_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := nextval('company_read_versions');
    RETURN NEW;
END
$$;

CREATE TABLE company_settings (
    company_id bigint PRIMARY KEY REFERENCES companies (id) ON DELETE CASCADE,
    sync_mode  text NOT NULL DEFAULT 'orders_and_quotes_with_payment'
               CHECK (sync_mode IN ('orders_and_quotes_with_payment', 'all_orders_and_quotes',
                                    'only_with_payment')),
    accounts   jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now(),
    version    bigint NOT NULL DEFAULT nextval('company_read_versions')
);
CREATE TRIGGER company_settings_version BEFORE UPDATE ON company_settings
    FOR EACH ROW EXECUTE FUNCTION company_read_version_bump();

-- QBO tax codes (with their combined rate), pulled on request and offered to the rental system.
CREATE TABLE tax_rates (
    company_id   bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    qbo_id       text NOT NULL,
    name         text NOT NULL,
    rate_percent numeric(9, 4) NOT NULL,
    active       boolean NOT NULL,
    synced_at    timestamptz NOT NULL,
    PRIMARY KEY (company_id, qbo_id)
);

-- 0003_qbo: QuickBooks connection, OAuth states, rate-limit counters, request log.
CREATE TABLE qbo_connections (
    company_id              bigint PRIMARY KEY REFERENCES companies (id) ON DELETE CASCADE,
    status                  text NOT NULL CHECK (status IN ('connected', 'lost', 'disconnected')),
    environment             text NOT NULL,
    realm_id                text,
    company_name            text NOT NULL DEFAULT '',
    plan                    text NOT NULL DEFAULT '',
    country                 text NOT NULL DEFAULT '',
    inventory_enabled       boolean NOT NULL DEFAULT false,
    ast_enabled             boolean NOT NULL DEFAULT false,
    -- AES-256-GCM (rentsync.crypto), bound to the company and the field; NULL once disconnected.
    access_token            bytea,
    refresh_token           bytea,
    access_expires_at       timestamptz,
    refresh_expires_at      timestamptz,
    refresh_hard_expires_at timestamptz,
    connected_at            timestamptz,
    refreshed_at            timestamptz,
    lost_at                 timestamptz,
    lost_reason             text,
    disconnected_at         timestamptz,
    updated_at              timestamptz NOT NULL DEFAULT now(),
    version                 bigint NOT NULL DEFAULT nextval('company_read_versions')
);
CREATE TRIGGER qbo_connections_version BEFORE UPDATE ON qbo_connections
    FOR EACH ROW EXECUTE FUNCTION company_read_version_bump();

-- The random part of a signed OAuth `state`, hashed; deleted when used (single use).
CREATE TABLE qbo_oauth_states (
    nonce_hash bytea PRIMARY KEY,
    company_id bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- QuickBooks' limits as rolling windows (rings of the last N send times per realm).
-- One row per realm: the lock every taker of the realm's budget holds for a moment, the time
-- until which QuickBooks told us to wait (a 429), shared by every process, and when real-time
-- work last asked (background work may use its reserve after a while without).
CREATE UNLOGGED TABLE qbo_realm_limits (
    realm_id      text PRIMARY KEY,
    blocked_until timestamptz,
    real_time_at  timestamptz
);

-- The next send number of each ring of a realm (minute, second, batch).
CREATE UNLOGGED TABLE qbo_rate_heads (
    realm_id text NOT NULL,
    kind     text NOT NULL,
    head     bigint NOT NULL,
    PRIMARY KEY (realm_id, kind)
);

-- Take number n of a ring of size N is kept at position n % N: the ring holds the last N takes,
-- each counted until `arrives_by`, the latest moment it may reach QuickBooks (its take + lease
-- until its answer, then its answer).
CREATE UNLOGGED TABLE qbo_rate_sends (
    realm_id   text NOT NULL,
    kind       text NOT NULL,
    pos        integer NOT NULL,
    arrives_by timestamptz NOT NULL,
    holder     text,
    PRIMARY KEY (realm_id, kind, pos)
);
CREATE INDEX qbo_rate_sends_latest ON qbo_rate_sends (realm_id, kind, arrives_by);
CREATE INDEX qbo_rate_sends_holder ON qbo_rate_sends (holder);

-- The 10 in-flight slots of a realm: a request leases one while it runs.
CREATE UNLOGGED TABLE qbo_inflight_slots (
    realm_id     text NOT NULL,
    slot         integer NOT NULL,
    holder       text,
    leased_until timestamptz,
    PRIMARY KEY (realm_id, slot)
);

-- A request counts in a realm's rolling windows until the latest moment it may reach QuickBooks
-- (issue 13, P1): its stamp is its take + lease until it is answered, then its answer. QuickBooks
-- counts a request when it arrives, which is anywhere between its take and its answer (later
-- than the take when the sender's event loop lags), so counting from the take, with a margin,
-- could let QuickBooks see more than its limit in a window; counting to the answer cannot.
CREATE FUNCTION qbo_answered(
    p_realms text[],
    p_slots integer[],
    p_holders text[],
    p_keep_slot boolean[]
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- The answer (or the moment the client stopped waiting: nothing it had not sent by then can
    -- reach QuickBooks any more) ends the request's arrival; never moved later.
    UPDATE qbo_rate_sends AS s SET arrives_by = least(s.arrives_by, clock_timestamp())
      FROM unnest(p_realms, p_holders) AS r(realm, holder)
     WHERE s.holder = r.holder AND s.realm_id = r.realm;
    -- A request without an answer may still run at QuickBooks: its slot stays to its lease.
    UPDATE qbo_inflight_slots AS s SET holder = NULL, leased_until = NULL
      FROM unnest(p_realms, p_slots, p_holders, p_keep_slot) AS r(realm, slot, holder, keep)
     WHERE s.realm_id = r.realm AND s.slot = r.slot AND s.holder = r.holder AND NOT r.keep;
END
$$;

-- Takes a realm's in-flight slot and stamps its rate rings in one statement (qbo/limits.py).
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

-- Every request to Intuit, bodies without tokens or secrets; purged after the retention.
CREATE TABLE qbo_log (
    id            bigserial PRIMARY KEY,
    company_id    bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    realm_id      text,
    at            timestamptz NOT NULL,
    method        text NOT NULL,
    path          text NOT NULL,
    status        integer,
    duration_ms   double precision NOT NULL,
    intuit_tid    text,
    requestid     text,
    request_body  text NOT NULL DEFAULT '',
    response_body text NOT NULL DEFAULT '',
    error         text
);
CREATE INDEX qbo_log_company_idx ON qbo_log (company_id, id DESC);
CREATE INDEX qbo_log_at_idx ON qbo_log (at);

-- A user belongs to one company. The e-mail address signs in, so it is unique across companies
-- (stored lower-case). Only an Argon2id hash of the password is kept; NULL: sign-in by link
-- only. session_version is part of every session cookie: raising it ends all of them.
CREATE TABLE console_users (
    id              bigserial PRIMARY KEY,
    company_id      bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    email           text NOT NULL UNIQUE CHECK (email = lower(email) AND email LIKE '%_@_%'),
    name            text NOT NULL CHECK (btrim(name) <> ''),
    role            text NOT NULL CHECK (role IN ('owner', 'bookkeeper', 'viewer')),
    view_qbo_logs   boolean NOT NULL DEFAULT false,
    password_hash   text,
    session_version integer NOT NULL DEFAULT 1,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_users_company_id_idx ON console_users (company_id);

-- A one-time sign-in link: only a keyed hash (HMAC-SHA256) of its token is stored.
CREATE TABLE console_signin_links (
    token_hash bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX console_signin_links_expires_at_idx ON console_signin_links (expires_at);

-- Failed sign-ins, counted per e-mail address and per client address over a window.
CREATE TABLE console_signin_failures (
    id        bigserial PRIMARY KEY,
    email     text NOT NULL,
    client_ip text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_signin_failures_email_idx ON console_signin_failures (email, at);
CREATE INDEX console_signin_failures_ip_idx ON console_signin_failures (client_ip, at);

-- Every console action: who (user id and the e-mail at the time), what, on what, when.
CREATE TABLE console_audit (
    id         bigserial PRIMARY KEY,
    company_id bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    user_id    bigint REFERENCES console_users (id) ON DELETE SET NULL,
    actor      text NOT NULL,
    action     text NOT NULL,
    target     text NOT NULL DEFAULT '',
    detail     jsonb NOT NULL DEFAULT '{}',
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_audit_company_idx ON console_audit (company_id, id DESC);
-- Bulk syncs (R18, B5): a selection of orders previewed (what each would become in QuickBooks
-- and what it costs) and, once confirmed, handed to the sync a bounded window at a time.
CREATE TABLE bulk_syncs (
    id             bigserial PRIMARY KEY,
    company_id     bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    selection      jsonb NOT NULL,
    state          text NOT NULL
                   CHECK (state IN ('previewing', 'previewed', 'running', 'cancelled', 'done')),
    start_when_previewed boolean NOT NULL DEFAULT false,
    preview_after  text,
    items          bigint NOT NULL DEFAULT 0,
    dispatched     bigint NOT NULL DEFAULT 0,
    planned        jsonb NOT NULL DEFAULT '{}',
    estimated_calls bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    previewed_at   timestamptz,
    started_at     timestamptz,
    cancelled_at   timestamptz,
    finished_at    timestamptz,
    -- References first (customers and products QuickBooks lacks), then the orders (0040).
    phase          text NOT NULL DEFAULT 'orders' CHECK (phase IN ('references', 'orders')),
    -- Outcomes of the orders that ended, added up by the dispatch step (0070):
    -- [[planned, outcome, count, changed since the preview], ...]
    settled_counts jsonb NOT NULL DEFAULT '[]',
    -- The documents' QBO operations as their kinds count them: batch items, singles (0083).
    batched_operations bigint NOT NULL DEFAULT 0,
    single_operations bigint NOT NULL DEFAULT 0,
    -- The preview walks the orders (with their payments), then the vendor side (0083).
    preview_stage  text NOT NULL DEFAULT 'orders' CHECK (preview_stage IN ('orders', 'vendors')),
    -- A lock's documents run one after another: the locks among the documents handed to the
    -- sync, and the operations of the longest lock's chain (0095).
    groups         bigint NOT NULL DEFAULT 0,
    longest_batched integer NOT NULL DEFAULT 0,
    longest_single integer NOT NULL DEFAULT 0,
    -- The documents by kind, as the preview counted them: an order and a quote apart, a
    -- payment's refunds and its void apart from it (0096).
    kinds          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX bulk_syncs_company_idx ON bulk_syncs (company_id, id DESC);

-- One row per selected document, in the order the run takes them (seq): what the preview
-- planned for it, at which revision, and when the run handed it to the sync.
CREATE TABLE bulk_sync_items (
    bulk_sync_id   bigint NOT NULL REFERENCES bulk_syncs (id) ON DELETE CASCADE,
    seq            bigint NOT NULL,
    company_id     bigint NOT NULL,
    doc_type       text NOT NULL,
    source_id      text NOT NULL,
    revision       bigint NOT NULL,
    planned        text NOT NULL CHECK (planned IN ('create', 'update', 'skip', 'fail')),
    reason         text,
    message        text,
    calls          integer NOT NULL DEFAULT 0,
    dispatched_at  timestamptz,
    -- When its outcome for the run ended and was added to the run's settled counts (0070).
    settled_at     timestamptz,
    PRIMARY KEY (bulk_sync_id, seq),
    FOREIGN KEY (company_id, doc_type, source_id)
        REFERENCES documents (company_id, doc_type, source_id) ON DELETE CASCADE
);
CREATE INDEX bulk_sync_items_in_sync_idx ON bulk_sync_items (bulk_sync_id, seq)
    WHERE dispatched_at IS NOT NULL AND settled_at IS NULL;

-- The customers and products a bulk sync's preview already counted (created once, up front).
CREATE TABLE bulk_sync_references (
    bulk_sync_id   bigint NOT NULL REFERENCES bulk_syncs (id) ON DELETE CASCADE,
    doc_type       text NOT NULL,
    source_id      text NOT NULL,
    dispatched_at  timestamptz,
    first_seq      integer,
    PRIMARY KEY (bulk_sync_id, doc_type, source_id)
);
