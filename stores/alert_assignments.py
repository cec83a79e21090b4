"""Alert assignments in PostgreSQL's ``alert_assignments`` table (``migrations_sql/0010``).

An assignment is an event on ``alpr.alerts.assigned``; the table keeps the latest one of each
alert. The latest is the greatest (``assigned_at``, ``assignment_id``): applying an
assignment again, or an older one after a newer, changes nothing, so the web view that sends
an assignment, the projection that reads it and a rebuild that replays the topic may all
apply it, in any order. The table is keyed by alert id alone, not tied to the alerts table,
so an assignment replayed before its alert is stored is kept too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from stores.alert_events import Replayed, replay_events
from stores.rows import made_by, rows_changed
from streams.codec import AvroSchema, SchemaCache, decode
from streams.records import AlertAssignment

_APPLY = """
INSERT INTO alert_assignments AS held (alert_id, assignee, assigned_by, assigned_at,
                                       assignment_id)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (alert_id) DO UPDATE
   SET assignee = excluded.assignee, assigned_by = excluded.assigned_by,
       assigned_at = excluded.assigned_at, assignment_id = excluded.assignment_id
 WHERE (held.assigned_at, held.assignment_id) < (excluded.assigned_at, excluded.assignment_id)
"""

SCHEMA = AvroSchema.named("AlertAssignment")


#: Who did it, as the stores keep it.
assigned_by = made_by


async def apply_assignment(db: Any, assignment: AlertAssignment) -> int:
    """Keep ``assignment`` if it is the alert's latest; 1 if it changed the table, else 0.

    ``db`` is an asyncpg pool or connection.
    """
    status = await db.execute(
        _APPLY, assignment.alert_id, assignment.assignee, assigned_by(assignment),
        assignment.assigned_at, assignment.assignment_id,
    )  # fmt: skip
    return rows_changed(status)


def assignment_of(value: bytes | None, cache: SchemaCache) -> AlertAssignment:
    """One ``alpr.alerts.assigned`` message as a record (``ProcessingError`` if it is not one)."""
    datum = decode(value, SCHEMA, cache)
    return AlertAssignment(**datum)


async def replay_assignments(
    db: Any, batches: AsyncIterator[list[bytes | None]], cache: SchemaCache
) -> Replayed:
    """Apply every assignment in ``batches`` (message values, oldest first); see
    :func:`stores.alert_events.replay_events`."""
    return await replay_events(db, batches, cache, assignment_of, apply_assignment)
