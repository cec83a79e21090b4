"""``make demo``: the real chain, from a clip of real photos to the query stores.

Builds a clip by panning across real photographs that ship in registry packages, starts
``faust -A alpr worker``, runs the edge worker (``alpr edge``) on the clip, which publishes one
PlateEvent per vehicle pass (Avro through the registry) to ``alpr.plates.raw`` with crops in
S3, and prints what the core made of them: the routed reads on ``alpr.plates.detected`` and
how many of them the projections wrote to PostgreSQL and Elasticsearch.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from config.settings import Settings, get_settings
from ops.demo_lookup import demo_key, search
from ops.layout import Layout
from ops.worker import WorkerProcess

ROOT = Path(__file__).resolve().parents[1]


async def partitions(settings: Settings, topics: list[str]) -> list[Any]:
    """Every partition of ``topics``, from the broker's metadata."""
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], part["partition"])
        for topic in described
        for part in topic["partitions"]
    ]


async def end_offsets(settings: Settings, topics: list[str]) -> dict[Any, int]:
    from aiokafka import AIOKafkaConsumer

    parts = await partitions(settings, topics)
    if not parts:
        raise SystemExit(f"topics {topics} do not exist: run `alpr bootstrap` first")
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(parts))
    finally:
        await consumer.stop()


async def collect(
    settings: Settings, start: dict[Any, int], want: dict[str, int], timeout: float
) -> dict[str, list[Any]]:
    """Messages after ``start`` on each topic until ``want`` counts are met or time runs out."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    got: dict[str, list[Any]] = {topic: [] for topic in want}
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(len(got[t]) < n for t, n in want.items()):
            batch = await consumer.getmany(timeout_ms=500)
            for tp, messages in batch.items():
                got[tp.topic].extend(messages)
    finally:
        await consumer.stop()
    return got


def run_edge(settings: Settings, clip: Path, workdir: Path, camera: str) -> str:
    """``alpr edge`` on the clip, to its end; returns its output."""
    config = workdir / "cameras.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "site_id": "demo-site",
                "cameras": [
                    {
                        "id": camera,
                        "name": "Demo clip from real photos",
                        "url": str(clip),
                        "line": {"start": [0, 0.5], "end": [1, 0.5]},
                    }
                ],
                "publish": {"spool_dir": str(workdir / "spool"), "heartbeat_s": 2.0},
            }
        ),
        encoding="utf-8",
    )
    out = subprocess.run(
        [str(Path(sys.executable).with_name("alpr")), "edge", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"alpr edge failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return out.stdout + out.stderr


async def run(settings: Settings, clip: Path, workdir: Path) -> list[dict[str, Any]]:
    """The edge worker on the clip; the reads the core routed for its camera."""
    from config.settings import get_settings
    from streams.codec import AvroSchema, decode, default_schema_cache

    names = get_settings().topics
    start = await end_offsets(settings, [names.detected])
    camera = f"demo-cam-{uuid.uuid4().hex[:6]}"
    print(f"running the edge worker (alpr edge) on {clip.name} as camera {camera} ...")
    output = await asyncio.to_thread(run_edge, settings, clip, workdir, camera)
    published = re.search(r"(\d+) plate events? published", output)
    expected = int(published.group(1)) if published else 0
    print(f"  {output.strip().splitlines()[-1] if output.strip() else 'no output'}")
    got = await collect(settings, start, {names.detected: expected}, 90)
    cache = default_schema_cache()
    reads = [decode(m.value, AvroSchema.named("PlateRead"), cache) for m in got[names.detected]]
    return [r for r in reads if r["camera_id"] == camera]


async def count_in_stores(settings: Settings, event_ids: list[str]) -> tuple[int, int]:
    """How many of ``event_ids`` the projections wrote to PostgreSQL and Elasticsearch."""
    import asyncpg
    from elasticsearch import AsyncElasticsearch

    from stores.es_docs import alias_name

    deadline = time.monotonic() + 60
    pg = es = 0
    while time.monotonic() < deadline:
        conn = await asyncpg.connect(settings.postgres.dsn)
        try:
            pg = await conn.fetchval(
                "select count(*) from plate_reads where event_id::text = any($1::text[])",
                event_ids,
            )
        finally:
            await conn.close()
        client = AsyncElasticsearch(settings.elasticsearch.url)
        try:
            alias = alias_name(settings.elasticsearch.index_prefix)
            await client.indices.refresh(index=alias)
            found = await client.count(index=alias, query={"ids": {"values": event_ids}})
            es = int(found["count"])
        finally:
            await client.close()
        if pg == es == len(event_ids):
            break
        await asyncio.sleep(1)
    return pg, es


def show(reads: list[dict[str, Any]]) -> None:
    print(
        f"\n  {'plate':<11} {'search key':<11} {'vehicle':<8} {'direction':<11} {'agreed':>6} conf"
    )
    for read in reads:
        print(
            f"  {read['plate']!s:<11} {read['search_key']!s:<11} {read['vehicle_type']!s:<8} "
            f"{read['direction']!s:<11} {read['frames_agreed']:>6} {read['plate_confidence']:.2f}"
        )


def main() -> int:
    # The edge is imported here, not at module level: autodiscovery imports this module in
    # every core worker, which must not load the edge.
    from edge.manifest import alpr_home
    from edge.video.clip import TEST_CLIP, build_clip

    settings = get_settings()
    workdir = Path(os.environ.get("ALPR_DEMO_DIR", ROOT / "out" / "demo"))
    workdir.mkdir(parents=True, exist_ok=True)
    samples = alpr_home() / "samples" / "plates"
    if not (samples / "labels.tsv").is_file():
        raise SystemExit(f"no sample photos in {samples}: run `make models` first")
    clip, scenes = build_clip(samples, TEST_CLIP)
    print(f"demo clip: {clip} ({len(scenes)} vehicles panned from real photos)")
    print("starting a Faust worker (faust -A alpr worker) ...", flush=True)
    with WorkerProcess(workdir, settings.web.port) as worker:
        try:
            health = worker.wait_ready()
        except (RuntimeError, TimeoutError) as exc:
            print(f"demo FAILED: {exc}")
            return 1
        print(f"worker up: {health['assigned_partitions']} partitions assigned, "
              f"health at {worker.web_url}/health")  # fmt: skip
        reads = asyncio.run(run(settings, clip, workdir))
        show(reads)
        pg, es = asyncio.run(count_in_stores(settings, [r["event_id"] for r in reads]))
        found = look_up(settings, worker.web_url, reads)
        ok = bool(reads) and pg == es == len(reads) and found
        print(
            f"\ndemo {'done' if ok else 'FAILED'}: {len(reads)} plates read from the clip and "
            f"routed; {pg} rows in PostgreSQL, {es} documents in Elasticsearch.\n"
            f"Worker: {worker.web_url}/health and /metrics (log {worker.log_path}).\n"
            f"Health of the whole system: {Layout().url('prometheus')}/targets and /alerts.\n"
            f"Try: .venv/bin/alpr read {samples / 'fast-alpr-test-image.png'}"
        )
        if ok and sys.stdin.isatty() and os.environ.get("ALPR_DEMO_SERVE", "1") != "0":
            serve(worker.web_url)
    return 0 if ok else 1


def look_up(settings: Settings, web_url: str, reads: list[dict[str, Any]]) -> bool:
    """Search the first read's plate through the API and print how to open the pages."""
    if not reads:
        return False
    key = asyncio.run(demo_key(settings.postgres.dsn))
    plate = str(reads[0]["plate"])
    hits = search(web_url, key, plate)
    shown = [f"{h['plate']} ({h['match']}, {h['sightings']} sighting(s))" for h in hits]
    print(f"\nlookup API: {plate} -> {', '.join(shown) or 'no hit'}")
    print(
        f"lookup page: {web_url}/search  (sign in with the demo admin key {key};\n"
        f"  more keys: ops/stack exec -- .venv/bin/alpr keys create --role viewer --owner NAME)"
    )
    return any(h["plate"] == plate for h in hits)


def serve(web_url: str) -> None:
    """Keep the worker (and so the pages) up until the newcomer presses Ctrl-C."""
    print(f"\nserving the pages at {web_url}/search; Ctrl-C stops the worker "
          "(set ALPR_DEMO_SERVE=0 to stop at once)")  # fmt: skip
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping the worker")


if __name__ == "__main__":
    sys.exit(main())
