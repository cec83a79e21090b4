"""Decoding a batch of ``alpr.plates.detected`` values as PlateReads, off the hot path's toes:
writer schemas are fetched once per batch, and a registry outage is waited out (with the
project's one backoff, reported in ``streams.outages`` so ``/health`` says what it waits for).

A projection passes its ``convert`` (message -> row, message -> document): each read is
shaped as soon as it is decoded and its dict dropped at once (or never built, see
:mod:`stores.copy_rows`). A batch of thousands of reads otherwise keeps
thousands of nested dicts alive at the same time, and the full garbage collections they set
off cost a PostgreSQL projection about a quarter of its time (measured).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from streams.codec import REGISTRY, AvroSchema, SchemaCache, decode_message, schema_id_of
from streams.failures import ProcessingError, Reason, Unavailable
from streams.retry import Backoff, retry_until_done

READ_SCHEMA = AvroSchema.named("PlateRead")

T = TypeVar("T")

#: Errors of a shape given a read it cannot map (a field missing or of the wrong kind).
SHAPE_ERRORS: tuple[type[Exception], ...] = (KeyError, TypeError, ValueError)


@dataclass
class Decoded(Generic[T]):
    """Positions in the batch with their shaped read, positions that failed with the error,
    and positions whose read decoded but did not shape, with what the shape said.

    Edge previews (early reads of a track, flagged ``preview``) are counted in ``previews``
    and not returned: the stores hold each vehicle pass once, as its final read, which
    supersedes the preview (the alert rules use previews to page early).
    """

    reads: list[tuple[int, T]] = field(default_factory=list)
    failed: list[tuple[int, ProcessingError]] = field(default_factory=list)
    unshaped: list[tuple[int, Exception]] = field(default_factory=list)
    previews: int = 0


#: Turns one wire-format message into what a store writes; None for an edge preview.
#: Raises ``ProcessingError`` for a message that is not a PlateRead, or one of
#: :data:`SHAPE_ERRORS` for a read the store cannot map.
Convert = Callable[[bytes | None], T | None]


def shaped_reads(cache: SchemaCache, shape: Callable[[dict[str, Any]], T]) -> Convert[T]:
    """A converter that decodes with fastavro into the read's dict, then applies ``shape``."""

    def convert(value: bytes | None) -> T | None:
        read, _ = decode_message(value, READ_SCHEMA, cache)
        if read.get("preview"):
            return None
        return shape(read)

    return convert


def as_read(read: dict[str, Any]) -> dict[str, Any]:
    """The shape that keeps the read's dict as it is."""
    return read


async def decode_reads(
    values: Sequence[bytes | None], cache: SchemaCache, backoff: Backoff
) -> Decoded[dict[str, Any]]:
    """Every value as a PlateRead dict (see :func:`decode_batch`)."""
    return await decode_batch(values, cache, backoff, shaped_reads(cache, as_read))


async def decode_batch(
    values: Sequence[bytes | None], cache: SchemaCache, backoff: Backoff, convert: Convert[T]
) -> Decoded[T]:
    """Decode every value as a PlateRead through ``convert``.

    A registry outage is waited out (the bytes are fine, the schema is only not to be had
    yet) until ``backoff`` says to stop (``Abandoned``); every other failure is the
    message's own and is returned in ``failed`` (decoding) or ``unshaped`` (``convert``
    raised one of :data:`SHAPE_ERRORS`).
    """
    ids = {sid for v in values if (sid := schema_id_of(v or b"")) is not None}

    async def attempt() -> Decoded[T]:
        await cache.fetch_writers(ids)
        return await _decode_all(values, convert)

    return await retry_until_done(
        f"decoding a batch of {len(values)}",
        attempt,
        lambda exc: isinstance(exc, Unavailable),
        backoff,
        component=REGISTRY,
    )


#: Messages decoded between two returns to the event loop: a batch of thousands would
#: otherwise hold the worker's loop (router, rule feed, alert agents) for tens of ms.
YIELD_EVERY = 256


async def _decode_all(values: Sequence[bytes | None], convert: Convert[T]) -> Decoded[T]:
    """The batch decoded; ``Unavailable`` when the registry is away."""
    decoded: Decoded[T] = Decoded()
    reads = decoded.reads
    for position, value in enumerate(values):
        if position % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)
        try:
            item = convert(value)
        except ProcessingError as exc:
            if exc.reason is Reason.REGISTRY_UNAVAILABLE:
                raise Unavailable(REGISTRY, exc.message) from None
            decoded.failed.append((position, exc))
        except SHAPE_ERRORS as exc:
            decoded.unshaped.append((position, exc))
        else:
            if item is None:
                decoded.previews += 1
            else:
                reads.append((position, item))
    return decoded
