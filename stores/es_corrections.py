"""Corrections applied to the reads' documents in Elasticsearch.

A read lives in its day's index (``<prefix>-reads-YYYY.MM.DD``) and, when an alert keeps it,
in the retained index too; both are updated with a partial document (no script: the
test distribution has no painless). Indices made before corrections existed get the
correction fields' mapping first (the mapping is strict). As in PostgreSQL the first text read
is kept in ``read_text``, the same correction applied again changes nothing and an older
correction than the one applied is skipped.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import AsyncElasticsearch, NotFoundError

from stores.corrections_writer import corrected_by
from stores.es_docs import CORRECTION_PROPERTIES, index_for, retained_index
from streams.plates import search_key
from streams.records import ReadCorrection


def corrected_fields(source: dict[str, Any], correction: ReadCorrection) -> dict[str, Any] | None:
    """The partial document that applies ``correction`` to a read stored as ``source``; None
    when a later correction is already applied."""
    applied = source.get("corrected_at")
    if applied is not None and applied > correction.corrected_at.isoformat():
        return None
    return {
        "plate": correction.new_plate,
        "search_key": search_key(correction.new_plate),
        "plate_text": correction.new_text,
        "read_text": source.get("read_text") or source.get("plate_text"),
        "corrected_by": corrected_by(correction),
        "corrected_at": correction.corrected_at.isoformat(),
    }


async def apply_correction_es(
    client: AsyncElasticsearch, prefix: str, correction: ReadCorrection
) -> int:
    """Apply ``correction`` to the read's documents; how many it changed."""
    changed = 0
    for index in (index_for(prefix, correction.captured_at), retained_index(prefix)):
        try:
            found = await client.get(index=index, id=correction.event_id)
        except NotFoundError:  # no such index, or the read is not in it
            continue
        fields = corrected_fields(dict(found["_source"]), correction)
        if fields is None:
            continue
        await client.indices.put_mapping(index=index, properties=CORRECTION_PROPERTIES)
        await client.update(index=index, id=correction.event_id, doc=fields, refresh="wait_for")
        changed += 1
    return changed
