-- Secrets every worker of a site must share, drawn once by the first worker that needs one
-- (the key that signs image links), so several workers behind a balancer accept each other's
-- links without a setting.

CREATE TABLE IF NOT EXISTS web_secrets (
    name        text PRIMARY KEY,
    value       bytea NOT NULL CHECK (length(value) >= 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);
