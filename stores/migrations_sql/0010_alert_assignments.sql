-- Operators assign alerts to people (issue 20). An assignment is an event on
-- alpr.alerts.assigned; this table is its projection: the latest assignment of each alert
-- (assignee NULL: unassigned), with who made it and when. It is apart from the alerts table,
-- keyed by alert id only, so an assignment replayed before its alert is stored still lands,
-- and a replay of the topic rebuilds it whatever the order.

CREATE TABLE IF NOT EXISTS alert_assignments (
    alert_id      text PRIMARY KEY,
    assignee      text,
    assigned_by   text NOT NULL,
    assigned_at   timestamptz NOT NULL,
    assignment_id text NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_assignments_assignee_idx ON alert_assignments (assignee)
    WHERE assignee IS NOT NULL;
