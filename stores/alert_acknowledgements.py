"""Alert acknowledgements in PostgreSQL's ``alert_acknowledgements`` table
(``migrations_sql/0011``).

An acknowledgement is an event on ``alpr.alerts.acknowledged``; the table keeps the first one
of each alert, as the console always has (acknowledging again changes nothing). The first is
the least (``acknowledged_at``, ``acknowledgement_id``): applying an acknowledgement again, or a
later one after an earlier, changes nothing, so the web view that sends it, the projection that
reads it and a rebuild that replays the topic may all apply it, in any order. The table is
keyed by alert id alone, not tied to the alerts table, so emptying and refilling either keeps
the other. Acknowledgements given before this table were written into the alerts row itself;
readers still show those (``web.lookup.reference``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from stores.alert_events import Replayed, replay_events
from stores.rows import made_by, rows_changed
from streams.codec import AvroSchema, SchemaCache, decode
from streams.records import AlertAcknowledgement

_APPLY = """
INSERT INTO alert_acknowledgements AS held (alert_id, acknowledged_by, acknowledged_at, note,
                                            acknowledgement_id)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (alert_id) DO UPDATE
   SET acknowledged_by = excluded.acknowledged_by, acknowledged_at = excluded.acknowledged_at,
       note = excluded.note, acknowledgement_id = excluded.acknowledgement_id
 WHERE (held.acknowledged_at, held.acknowledgement_id)
     > (excluded.acknowledged_at, excluded.acknowledgement_id)
"""

SCHEMA = AvroSchema.named("AlertAcknowledgement")


#: Who did it, as the stores keep it.
acknowledged_by = made_by


async def apply_acknowledgement(db: Any, acknowledgement: AlertAcknowledgement) -> int:
    """Keep ``acknowledgement`` if it is the alert's first; 1 if it changed the table, else 0.

    ``db`` is an asyncpg pool or connection.
    """
    status = await db.execute(
        _APPLY, acknowledgement.alert_id, acknowledged_by(acknowledgement),
        acknowledgement.acknowledged_at, acknowledgement.note,
        acknowledgement.acknowledgement_id,
    )  # fmt: skip
    return rows_changed(status)


def acknowledgement_of(value: bytes | None, cache: SchemaCache) -> AlertAcknowledgement:
    """One ``alpr.alerts.acknowledged`` message as a record (``ProcessingError`` if it is not
    one)."""
    datum = decode(value, SCHEMA, cache)
    return AlertAcknowledgement(**datum)


async def replay_acknowledgements(
    db: Any, batches: AsyncIterator[list[bytes | None]], cache: SchemaCache
) -> Replayed:
    """Apply every acknowledgement in ``batches`` (message values, oldest first); see
    :func:`stores.alert_events.replay_events`."""
    return await replay_events(db, batches, cache, acknowledgement_of, apply_acknowledgement)
