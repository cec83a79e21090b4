-- Operators acknowledge alerts as events (issue 20). An acknowledgement is an event on
-- alpr.alerts.acknowledged; this table is its projection: the first acknowledgement of each
-- alert, with who gave it, when and their note. Like alert_assignments it is apart from the
-- alerts table and keyed by alert id only, so a rebuild of either table keeps the other, and a
-- replay of the topic rebuilds it whatever the order. Additive: the acknowledgement columns of
-- alerts stay, and the acknowledgements written there before this table are still shown.

CREATE TABLE IF NOT EXISTS alert_acknowledgements (
    alert_id           text PRIMARY KEY,
    acknowledged_by    text NOT NULL,
    acknowledged_at    timestamptz NOT NULL,
    note               text,
    acknowledgement_id text NOT NULL
);
