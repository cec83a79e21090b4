"""Who corrected which read, when and why: one ``read_corrections`` row per correction sent
(``migrations_sql/0009``), written by the web view that sent it, with the key that made it."""

from __future__ import annotations

from streams.records import ReadCorrection
from web.auth.audit import client_inet
from web.auth.keys import Executor


async def record(db: Executor, correction: ReadCorrection, client: str | None) -> int:
    """Write the audit row of ``correction``; its id."""
    row_id: int = await db.fetchval(
        "INSERT INTO read_corrections (correction_id, corrected_at, event_id, captured_at,"
        " key_id, actor, old_text, new_text, new_plate, reason, plate_crop_key, client_addr)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::inet) RETURNING id",
        correction.correction_id,
        correction.corrected_at,
        correction.event_id,
        correction.captured_at,
        correction.key_id,
        correction.owner,
        correction.old_text,
        correction.new_text,
        correction.new_plate,
        correction.reason,
        correction.plate_crop_key,
        client_inet(client),
    )
    return row_id
