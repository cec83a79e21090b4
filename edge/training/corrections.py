"""Operators' corrections as training data: ``alpr train corrections --out DIR``.

A read an operator corrected on the plate page (``alpr.reads.corrected``, applied to
PostgreSQL's reads by the projections) is a plate the engine misread, with its true text: the
most useful real example there is. This writes each corrected read's plate crop (from S3, the
read's ``plate_crop_key``) into a folder with a ``labels.tsv`` in the project's label format,
the box covering the whole crop, so ``alpr train ocr --real DIR`` learns from them
(``edge.training.data.real_crops``). Reads without a crop, or whose crop is gone or does not
decode, are skipped and counted.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from config.settings import Settings

#: The corrected reads, newest correction first (the one read of a retained read).
CORRECTED_READS = """
SELECT event_id, plate, plate_crop_key FROM (
    SELECT event_id, plate, plate_crop_key, corrected_at FROM plate_reads
     WHERE corrected_at IS NOT NULL
    UNION
    SELECT event_id, plate, plate_crop_key, corrected_at FROM retained_reads
     WHERE corrected_at IS NOT NULL
) AS corrected ORDER BY corrected_at DESC
"""
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")

FetchCrop = Callable[[str], Awaitable[bytes | None]]


@dataclass(frozen=True)
class CorrectedRead:
    """A read whose text an operator corrected: its id, true plate and crop's object key."""

    event_id: str
    plate: str
    plate_crop_key: str | None


@dataclass(frozen=True)
class ExportSummary:
    written: int
    without_crop: int
    unreadable: int


def label_line(file: str, plate: str, width: int, height: int) -> str:
    """The ``labels.tsv`` line of a crop: the whole crop is the plate's box, one line unknown."""
    return f"{file}\t{plate}\t0 0 {width} {height}\t-"


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of an encoded image, or None when it does not decode."""
    import cv2

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return None if image is None else (int(image.shape[1]), int(image.shape[0]))


async def export_corrections(
    reads: Iterable[CorrectedRead], fetch_crop: FetchCrop, out: Path
) -> ExportSummary:
    """Write the crops of ``reads`` and their ``labels.tsv`` into ``out`` (replacing its
    labels; crops already there are written again)."""
    out.mkdir(parents=True, exist_ok=True)
    lines, without_crop, unreadable = [], 0, 0
    for read in reads:
        data = await fetch_crop(read.plate_crop_key) if read.plate_crop_key else None
        if data is None:
            without_crop += 1
            continue
        size = image_size(data)
        if size is None:
            unreadable += 1
            continue
        suffix = Path(read.plate_crop_key or "").suffix.lower() or ".jpg"
        file = _SAFE_NAME.sub("_", read.event_id) + suffix
        (out / file).write_bytes(data)
        lines.append(label_line(file, read.plate, *size))
    header = "# corrected reads: file, plate, box x y w h (the whole crop), lines\n"
    (out / "labels.tsv").write_text(header + "".join(f"{x}\n" for x in lines), encoding="utf-8")
    return ExportSummary(len(lines), without_crop, unreadable)


async def corrected_reads(dsn: str) -> list[CorrectedRead]:
    """Every corrected read still stored in PostgreSQL."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(CORRECTED_READS)
    finally:
        await conn.close()
    return [CorrectedRead(r["event_id"], r["plate"], r["plate_crop_key"]) for r in rows]


async def export_from_stores(out: Path, settings: Settings | None = None) -> ExportSummary:
    """The corrected reads of PostgreSQL, with their crops from the S3 bucket (of ``settings``,
    by default the configured ones)."""
    from aiobotocore.session import get_session
    from botocore.exceptions import ClientError

    from config.settings import get_settings

    settings = settings or get_settings()
    reads = await corrected_reads(settings.postgres.dsn)
    async with get_session().create_client("s3", **settings.s3.client_kwargs()) as s3:

        async def fetch(key: str) -> bytes | None:
            try:
                answer = await s3.get_object(Bucket=settings.s3.bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                    return None
                raise
            async with answer["Body"] as body:
                data: bytes = await body.read()
            return data

        return await export_corrections(reads, fetch, out)
