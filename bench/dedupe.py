"""The router's dedupe state in memory against on disk: memory per event id and restore time.

    .venv/bin/python -m bench.dedupe [--ids 1000000] [--tail 10000] [--page-cache-mib 64]

Writes ``--ids`` dedupe entries (the router's changelog format) to a fresh changelog topic on
the local broker, then restores them the router's way (``streams.changelog.read_changelog``
into the state), each restore in a process of its own so its memory is its own:

1. ``disk, no file``: a worker with no state file restores every entry;
2. ``--tail`` more entries are written (the changelog a worker missed while it was down);
3. ``memory, restart``: the in-memory state restores every entry again, as after any restart;
4. ``disk, restart``: the state file of (1) is reopened and only the tail is read.

Each prints its restore time, the growth of the process's resident memory (at a quarter, half
and all of the records, to show which grows with the ids), per id, and the file's size, then
a lookup's cost for an absent id (every new event's case). A first read of the changelog
that keeps nothing (``read only``) is what reading costs besides any state (the consumer's
buffers stay in the heap); the per-id figures of the result are net of it. Ends with
``RESULT memory_b_per_id=... disk_b_per_id=... memory_ratio=... restart_s_memory=...
restart_s_disk=... restart_ratio=...``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from config.router import RouterSettings
from config.settings import get_settings
from streams.changelog import read_changelog
from tables.dedupe import (
    DiskSeenEvents,
    MemorySeenEvents,
    SeenEvent,
    SeenEvents,
    encode_entry,
    encode_key,
)
from tests.support.streams import create_topics, delete_topics

PARTITIONS = 8
#: The router's defaults (the cache of recent entries, the page cache).
ROUTER = RouterSettings()
LOOKUPS = 100_000


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def write_entries(bootstrap: str, topic: str, count: int) -> None:
    """``count`` entries of fresh UUIDs, spread over the partitions as the router's are."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    try:
        now = time.time()
        for start in range(0, count, 10_000):
            batches = [producer.create_batch() for _ in range(PARTITIONS)]
            for n in range(start, min(start + 10_000, count)):
                partition = n % PARTITIONS
                entry = SeenEvent(now, partition, n // PARTITIONS)
                batch = batches[partition]
                while batch.append(
                    key=encode_key(str(uuid.uuid4())), value=encode_entry(entry), timestamp=None
                ) is None:  # fmt: skip
                    await (await producer.send_batch(batch, topic, partition=partition))
                    batch = batches[partition] = producer.create_batch()
            for partition, batch in enumerate(batches):
                if batch.record_count():
                    await (await producer.send_batch(batch, topic, partition=partition))
    finally:
        await producer.stop()


async def measure(
    kind: str, topic: str, path: Path, expected: int, page_cache_mib: int
) -> dict[str, Any]:
    """Restore ``topic`` into a state of ``kind`` (in this process); what it cost."""
    bootstrap = get_settings().kafka.bootstrap_servers
    before = rss_bytes()
    seen: SeenEvents = (
        MemorySeenEvents()
        if kind != "disk"
        else DiskSeenEvents(path, topic, ROUTER.dedupe_cache_entries, page_cache_mib=page_cache_mib)
    )
    keep = kind != "none"  # "none": the read alone, what every state pays besides its own
    samples: dict[str, int] = {}
    applied = 0
    marks = {expected // 4: "quarter", expected // 2: "half"}

    def apply(partition: int, offset: int, key: bytes | None, value: bytes | None) -> None:
        nonlocal applied
        if keep:
            seen.apply(partition, offset, key, value)
        applied += 1
        if applied in marks:
            samples[marks[applied]] = rss_bytes() - before

    started = time.perf_counter()
    starts = {p: seen.positions.get(p) for p in range(PARTITIONS)}
    await read_changelog(bootstrap, topic, starts, apply)
    seen.flush()
    restore_s = time.perf_counter() - started
    samples["all"] = rss_bytes() - before
    ids = len(seen)
    absent = [str(uuid.uuid4()) for _ in range(LOOKUPS)]
    started = time.perf_counter()
    for event_id in absent:
        seen.get(event_id)
    lookup_us = (time.perf_counter() - started) / LOOKUPS * 1e6
    seen.close()
    files = path.parent.glob(f"{path.name}*") if kind == "disk" else ()
    return {
        "kind": kind, "records": applied, "ids": ids, "restore_s": restore_s, "rss": samples,
        "file_bytes": sum(f.stat().st_size for f in files), "lookup_us": lookup_us,
    }  # fmt: skip


def run_measure(
    kind: str, topic: str, path: Path, expected: int, page_cache_mib: int
) -> dict[str, Any]:
    """:func:`measure` in a process of its own."""
    command = [
        sys.executable, "-m", "bench.dedupe", "--measure", kind, "--topic", topic,
        "--path", str(path), "--ids", str(expected), "--page-cache-mib", str(page_cache_mib),
    ]  # fmt: skip
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("MEASURE "))
    result: dict[str, Any] = json.loads(line.removeprefix("MEASURE "))
    return result


def report(label: str, result: dict[str, Any]) -> None:
    rss = result["rss"]
    growth = " ".join(f"{k}={v / 2**20:.0f}MiB" for k, v in rss.items())
    per_id = rss["all"] / max(result["ids"], 1)
    file_part = (
        f", file {result['file_bytes'] / 2**20:.0f} MiB "
        f"({result['file_bytes'] / max(result['ids'], 1):.0f} B/id)"
        if result["file_bytes"]
        else ""
    )
    print(
        f"{label:18} {result['records']:>9,} records read in {result['restore_s']:6.2f}s, "
        f"{result['ids']:,} ids; memory growth {growth} ({per_id:.0f} B/id){file_part}; "
        f"absent-id lookup {result['lookup_us']:.1f} us",
        flush=True,
    )


async def run(ids: int, tail: int, page_cache_mib: int) -> None:
    bootstrap = get_settings().kafka.bootstrap_servers
    topic = f"bench.dedupe.{uuid.uuid4().hex[:10]}-changelog"
    await create_topics(
        bootstrap, [topic], PARTITIONS, configs={topic: {"cleanup.policy": "compact"}}
    )
    try:
        with tempfile.TemporaryDirectory() as workdir:
            path = Path(workdir) / f"{topic}.sqlite3"
            print(f"writing {ids:,} entries to {topic}", flush=True)
            await write_entries(bootstrap, topic, ids)
            read_only = run_measure("none", topic, path, ids, page_cache_mib)
            report("read only", read_only)
            disk_fresh = run_measure("disk", topic, path, ids, page_cache_mib)
            report("disk, no file", disk_fresh)
            print(f"writing {tail:,} more entries (the tail a stopped worker missed)", flush=True)
            await write_entries(bootstrap, topic, tail)
            memory = run_measure("memory", topic, path, ids + tail, page_cache_mib)
            report("memory, restart", memory)
            disk_restart = run_measure("disk", topic, path, tail, page_cache_mib)
            report("disk, restart", disk_restart)
    finally:
        await delete_topics(bootstrap, [topic])
    # Net of what reading the changelog costs (its buffers stay in the process's heap).
    memory_per_id = (memory["rss"]["all"] - read_only["rss"]["all"]) / memory["ids"]
    disk_per_id = max(disk_fresh["rss"]["all"] - read_only["rss"]["all"], 0) / disk_fresh["ids"]
    print(
        f"RESULT memory_b_per_id={memory_per_id:.0f} disk_b_per_id={disk_per_id:.0f} "
        f"memory_ratio={memory_per_id / max(disk_per_id, 1):.1f} "
        f"restart_s_memory={memory['restore_s']:.2f} "
        f"restart_s_disk={disk_restart['restore_s']:.2f} "
        f"restart_ratio={memory['restore_s'] / disk_restart['restore_s']:.1f} "
        f"full_s_disk={disk_fresh['restore_s']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", type=int, default=1_000_000, help="entries in the changelog")
    parser.add_argument("--tail", type=int, default=10_000, help="entries written while down")
    parser.add_argument(
        "--page-cache-mib",
        type=int,
        default=ROUTER.dedupe_page_cache_mib,
        help="SQLite page cache of the on-disk state (default: the router's setting's default)",
    )
    parser.add_argument("--measure", choices=["none", "memory", "disk"], help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ids < 4 or args.tail < 1:
        parser.error(f"--ids must be at least 4 and --tail at least 1, got {args.ids}, {args.tail}")
    if args.measure:
        result = asyncio.run(
            measure(args.measure, args.topic, args.path, args.ids, args.page_cache_mib)
        )
        print("MEASURE " + json.dumps(result))
        return
    asyncio.run(run(args.ids, args.tail, args.page_cache_mib))


if __name__ == "__main__":
    main()
