-- Cameras, alerts, API keys and the search audit log: the tables beside the reads.

CREATE TABLE cameras (
    camera_id     text PRIMARY KEY,
    site_id       text NOT NULL,
    name          text,
    zone          text,
    state         text,
    lat           double precision CHECK (lat BETWEEN -90 AND 90),
    lon           double precision CHECK (lon BETWEEN -180 AND 180),
    edge_version  text,
    last_seen_at  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cameras_site_idx ON cameras (site_id);

-- One row per alert raised by a rule; the read that raised it is kept for alert_days.
CREATE TABLE alerts (
    alert_id      text PRIMARY KEY,
    rule_id       text NOT NULL,
    event_id      text NOT NULL,
    captured_at   timestamptz NOT NULL,
    plate         text NOT NULL,
    camera_id     text NOT NULL,
    severity      text NOT NULL DEFAULT 'info',
    raised_at     timestamptz NOT NULL,
    details       jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX alerts_raised_idx ON alerts (raised_at DESC);
CREATE INDEX alerts_plate_idx ON alerts (plate, raised_at DESC);
CREATE INDEX alerts_event_idx ON alerts (event_id, captured_at);

-- API keys: only a hash of the secret is stored.
CREATE TABLE api_keys (
    key_id        text PRIMARY KEY,
    key_hash      text NOT NULL UNIQUE,
    owner         text NOT NULL,
    role          text NOT NULL CHECK (role IN ('viewer', 'investigator', 'admin')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz
);

-- Who searched for what, and why: every plate lookup writes one row.
CREATE TABLE search_audit (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    searched_at   timestamptz NOT NULL DEFAULT now(),
    key_id        text REFERENCES api_keys (key_id),
    actor         text NOT NULL,
    query         text NOT NULL,
    fuzzy         boolean NOT NULL DEFAULT false,
    reason        text NOT NULL CHECK (length(btrim(reason)) > 0),
    results       integer,
    client_addr   inet
);
CREATE INDEX search_audit_time_idx ON search_audit (searched_at DESC);
CREATE INDEX search_audit_actor_idx ON search_audit (actor, searched_at DESC);
