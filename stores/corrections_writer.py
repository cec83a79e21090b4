"""Corrections applied to the stored reads in PostgreSQL (``migrations_sql/0009``).

A correction sets the read's ``plate``, ``plate_text`` and ``search_key`` to the corrected
ones and keeps the text the edge read in ``read_text``: the first correction sets it, a later
one leaves it, so the original survives any number of corrections. Applying the same correction
again changes nothing, so a replayed correction is harmless; a correction older than the one
applied (``corrected_at``) is skipped, so the latest wins whatever the order of a replay. The
read is found by event id within a millisecond of its capture time (the event's precision),
which keeps the update to one partition. The
new plate joins ``plate_keys`` (its trigger only sees inserts) so fuzzy search finds it.
"""

from __future__ import annotations

from typing import Any

from stores.rows import made_by, rows_changed
from streams.plates import search_key
from streams.records import ReadCorrection

_APPLY = """
UPDATE {table} SET plate = $2, plate_text = $3, search_key = $4,
       read_text = coalesce(read_text, plate_text), corrected_by = $5, corrected_at = $6
 WHERE event_id = $1
   AND captured_at > $7::timestamptz - interval '1 millisecond'
   AND captured_at < $7::timestamptz + interval '1 millisecond'
   AND (corrected_at IS NULL OR corrected_at <= $6)
"""
_PLATE_KEY = """
INSERT INTO plate_keys (plate, search_key) VALUES ($1, $2) ON CONFLICT DO NOTHING
"""
TABLES = ("plate_reads", "retained_reads")


#: Who did it, as the stores keep it.
corrected_by = made_by


async def apply_correction(pool: Any, correction: ReadCorrection) -> int:
    """Apply ``correction`` to the read in both read tables; how many rows it changed."""
    key = search_key(correction.new_plate)
    args = (
        correction.event_id,
        correction.new_plate,
        correction.new_text,
        key,
        corrected_by(correction),
        correction.corrected_at,
        correction.captured_at,
    )
    changed = 0
    async with pool.acquire() as conn, conn.transaction():
        for table in TABLES:
            status = await conn.execute(_APPLY.format(table=table), *args)
            changed += rows_changed(status)
        if changed:
            await conn.execute(_PLATE_KEY, correction.new_plate, key)
    return changed
