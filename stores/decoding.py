"""Decoding a batch of ``alpr.plates.detected`` values as PlateReads, off the hot path's toes:
writer schemas are fetched once per batch, and a registry outage is waited out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stores.retry import Backoff
from streams.codec import AvroSchema, SchemaCache, decode_message, schema_id_of
from streams.failures import ProcessingError, Reason

log = logging.getLogger(__name__)

READ_SCHEMA = AvroSchema.named("PlateRead")


@dataclass
class Decoded:
    """Positions in the batch with their read, and positions that failed with the error.

    Edge previews (early reads of a track, flagged ``preview``) are counted in ``previews``
    and not returned: the stores hold each vehicle pass once, as its final read, which
    supersedes the preview (the alert rules use previews to page early).
    """

    reads: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    failed: list[tuple[int, ProcessingError]] = field(default_factory=list)
    previews: int = 0


async def decode_reads(
    values: Sequence[bytes | None], cache: SchemaCache, backoff: Backoff
) -> Decoded:
    """Decode every value as a PlateRead.

    A registry outage is waited out (the bytes are fine, the schema is only not to be had
    yet); every other failure is the message's own and is returned in ``failed``.
    """
    pauses = backoff.pauses()
    while True:
        await cache.prefetch(sid for v in values if (sid := schema_id_of(v or b"")) is not None)
        decoded = Decoded()
        for position, value in enumerate(values):
            try:
                read, _ = decode_message(value, READ_SCHEMA, cache)
            except ProcessingError as exc:
                if exc.reason is Reason.REGISTRY_UNAVAILABLE:
                    break
                decoded.failed.append((position, exc))
            else:
                if read.get("preview"):
                    decoded.previews += 1
                else:
                    decoded.reads.append((position, read))
        else:
            return decoded
        pause = next(pauses)
        log.warning("schema registry unavailable; decoding again in %.1fs", pause)
        await asyncio.sleep(pause)
