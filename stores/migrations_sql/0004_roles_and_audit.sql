-- Roles become viewer / operator / admin (an investigator key becomes an operator key), and
-- audit rows say what kind of lookup they record and carry a reason only when the policy asks
-- for one (it is required for viewers by default). Written to be safe to run twice.

ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_role_check;
UPDATE api_keys SET role = 'operator' WHERE role = 'investigator';
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('viewer', 'operator', 'admin'));

ALTER TABLE search_audit DROP CONSTRAINT IF EXISTS search_audit_reason_check;
ALTER TABLE search_audit ALTER COLUMN reason DROP NOT NULL;
ALTER TABLE search_audit ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'search';
ALTER TABLE search_audit DROP CONSTRAINT IF EXISTS search_audit_kind_check;
ALTER TABLE search_audit ADD CONSTRAINT search_audit_kind_check
    CHECK (kind IN ('search', 'plate'));
ALTER TABLE search_audit DROP CONSTRAINT IF EXISTS search_audit_reason_check;
ALTER TABLE search_audit ADD CONSTRAINT search_audit_reason_check
    CHECK (reason IS NULL OR length(btrim(reason)) > 0);
