-- Key creation and revocation, with who ran the command (the operating system user and host
-- of `alpr keys create|revoke`): the access audit names keys, this says where they came from.

CREATE TABLE IF NOT EXISTS key_audit (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    key_id      text NOT NULL REFERENCES api_keys (key_id),
    action      text NOT NULL CHECK (action IN ('create', 'revoke')),
    role        text NOT NULL,
    owner       text NOT NULL,
    done_by     text NOT NULL
);
CREATE INDEX IF NOT EXISTS key_audit_key_idx ON key_audit (key_id, at DESC);
