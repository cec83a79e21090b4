-- Every read of plate data is audited, not only plate searches and histories: event lists,
-- images and alert lists too; a refused request is audited with the code it was refused with
-- (refused IS NOT NULL, results NULL). Page sign-ins become server-side sessions (only the
-- hash of a session id is stored), and rule changes and sign-in failures get their own logs.
-- Written to be safe to run twice.

ALTER TABLE search_audit DROP CONSTRAINT IF EXISTS search_audit_kind_check;
ALTER TABLE search_audit ADD CONSTRAINT search_audit_kind_check
    CHECK (kind IN ('search', 'plate', 'events', 'image', 'alerts'));
ALTER TABLE search_audit ADD COLUMN IF NOT EXISTS refused text;
CREATE INDEX IF NOT EXISTS search_audit_key_idx ON search_audit (key_id, searched_at DESC);

CREATE TABLE IF NOT EXISTS web_sessions (
    session_hash  text PRIMARY KEY,
    key_id        text NOT NULL REFERENCES api_keys (key_id),
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);
CREATE INDEX IF NOT EXISTS web_sessions_key_idx ON web_sessions (key_id);

-- Who changed which rule through the API, and how (the rule before and after, as JSON).
CREATE TABLE IF NOT EXISTS rule_audit (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    key_id      text REFERENCES api_keys (key_id),
    actor       text NOT NULL,
    rule        text NOT NULL,
    action      text NOT NULL CHECK (action IN ('create', 'replace', 'delete')),
    before      jsonb,
    after       jsonb
);
CREATE INDEX IF NOT EXISTS rule_audit_rule_idx ON rule_audit (rule, changed_at DESC);

-- Failed sign-ins and requests with unknown or revoked keys, by client address.
CREATE TABLE IF NOT EXISTS auth_failures (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    failed_at    timestamptz NOT NULL DEFAULT now(),
    kind         text NOT NULL CHECK (kind IN ('signin', 'unknown_key', 'revoked_key')),
    key_id       text,
    client_addr  inet
);
CREATE INDEX IF NOT EXISTS auth_failures_time_idx ON auth_failures (failed_at DESC);
