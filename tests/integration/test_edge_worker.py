"""``alpr edge`` on the clip built from the real photos, against the real services: one
PlateEvent per vehicle pass on the raw topic (after the preview it supersedes), its crops in
the bucket, heartbeats on the cameras topic, and Prometheus metrics while it runs, announced in
its target file until it ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaConsumer

from config.settings import Settings
from edge.engine.colour import COLOURS
from edge.manifest import alpr_home
from edge.video.clip import SHORT_CLIP, build_clip
from ops.worker import free_port
from streams.codec import AvroSchema, SchemaCache, decode
from streams.registry import SchemaRegistryClient
from tests.integration.conftest import require_port
from tests.support.streams import create_topics, delete_topics

ALPR = Path(sys.executable).with_name("alpr")
EXPECTED = ["5AU5341", "MLB803", "NO23456"]


async def _read_all(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        for _ in range(6):  # the worker has exited: everything is in the topic already
            batch = await consumer.getmany(timeout_ms=1000)
            values += [m.value for part in batch.values() for m in part]
    finally:
        await consumer.stop()
    return values


def _run_edge(
    config: Path, env: dict[str, str], port: int, targets: Path
) -> tuple[str, str, set[str]]:
    """Run the worker to its end; its output, the last /metrics page seen meanwhile, and the
    targets its target files in ``targets`` announced meanwhile."""
    process = subprocess.Popen(
        [str(ALPR), "edge", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    scraped, announced = "", set()
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as page:
                scraped = page.read().decode()
            for path in targets.glob("*.json"):
                announced.update(json.loads(path.read_text())[0]["targets"])
        except OSError:
            pass
        time.sleep(1)
    if process.poll() is None:
        process.kill()
    output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output
    return output, scraped, announced


async def test_the_edge_worker_publishes_one_event_per_pass_with_crops_and_heartbeats(
    settings: Settings, unique: str, tmp_path: Path
) -> None:
    from aiobotocore.session import get_session

    bootstrap = settings.kafka.bootstrap_servers
    require_port(bootstrap, "Kafka")
    require_port(settings.schema_registry.url, "schema registry")
    require_port(settings.s3.endpoint, "S3")
    samples = alpr_home() / "samples" / "plates"
    if not (samples / "labels.tsv").is_file():
        pytest.fail(f"no labelled set in {samples}: run `python -m bench.samples` first")
    clip, _ = build_clip(samples, SHORT_CLIP)

    raw, cameras = f"alpr.plates.raw.test-edge-{unique}", f"alpr.cameras.test-edge-{unique}"
    bucket = f"alpr-test-edge-{unique}"
    camera = f"cam-{unique}"
    port = free_port()
    config = tmp_path / "cameras.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "site_id": "test-site",
                "cameras": [
                    {
                        "id": camera,
                        "url": str(clip),
                        "line": {"start": [0, 0.5], "end": [1, 0.5]},
                        "preview": True,
                    }
                ],
                "publish": {
                    "spool_dir": str(tmp_path / "spool"),
                    "heartbeat_s": 1.0,
                    "metrics_port": port,
                },
                # PP-OCRv6, whatever this machine's registry holds: EXPECTED is its reading.
                "engine": {"ocr": {"registry": None}},
            }
        ),
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "ALPR_TOPICS__RAW": raw,
        "ALPR_TOPICS__CAMERAS": cameras,
        "ALPR_S3__BUCKET": bucket,
        # Its own folder, not the stack's: the shared Prometheus would see its camera go
        # silent at the end and fire CameraSilent for an hour.
        "ALPR_EDGE_TARGETS_DIR": str(tmp_path / "targets"),
    }
    await create_topics(bootstrap, [raw, cameras], partitions=2)
    registry = SchemaRegistryClient(settings.schema_registry.url)
    async with get_session().create_client("s3", **settings.s3.client_kwargs()) as s3:
        await s3.create_bucket(Bucket=bucket)
        try:
            output, metrics, announced = _run_edge(config, env, port, tmp_path / "targets")
            assert "3 plate events published" in output
            assert announced == {f"127.0.0.1:{port}"}
            assert list((tmp_path / "targets").iterdir()) == [], "target file left behind"

            cache = SchemaCache(registry)
            events = [
                decode(v, AvroSchema.named("PlateEvent"), cache)
                for v in await _read_all(bootstrap, raw)
            ]
            assert {e["camera_id"] for e in events} == {camera}
            # Previews come first, without crops; each track's final event supersedes its
            # preview (one partition per camera: the topic keeps their order).
            finals = [e for e in events if not e["preview"]]
            previews = {e["event_id"]: i for i, e in enumerate(events) if e["preview"]}
            assert previews, "no preview published"
            assert all(events[i]["plate_crop_key"] is None for i in previews.values())
            superseded = [e["supersedes"] for e in finals if e["supersedes"] is not None]
            assert sorted(superseded) == sorted(previews)
            for n, event in enumerate(events):
                if event["supersedes"] is not None:
                    assert previews[event["supersedes"]] < n
            assert sorted(e["plate_text"] for e in finals) == EXPECTED
            assert {e["direction"] for e in finals} == {"approaching"}
            # Each final has a vehicle image, and the vehicle's colour named from it.
            assert all(e["vehicle_colour"] in COLOURS for e in finals), finals
            listed = await s3.list_objects_v2(Bucket=bucket)
            stored = {o["Key"] for o in listed.get("Contents", [])}
            for event in finals:
                assert event["plate_crop_key"] in stored
                assert event["vehicle_image_key"] in stored

            beats = [
                decode(v, AvroSchema.named("CameraStatus"), cache)
                for v in await _read_all(bootstrap, cameras)
            ]
            assert beats and {b["camera_id"] for b in beats} == {camera}
            assert beats[-1]["state"] == "offline"  # the final beat, after the file ended

            assert f'alpr_edge_frames_total{{camera="{camera}"}}' in metrics
            assert f'alpr_edge_configured_fps{{camera="{camera}"}} 10.0' in metrics
            assert "alpr_edge_stage_seconds_bucket" in metrics
            assert 'alpr_edge_spool_depth{spool="events"}' in metrics
            assert 'alpr_edge_spool_bytes{spool="crops"}' in metrics
        finally:
            listed = await s3.list_objects_v2(Bucket=bucket)
            for obj in listed.get("Contents", []):
                await s3.delete_object(Bucket=bucket, Key=obj["Key"])
            await s3.delete_bucket(Bucket=bucket)
            await delete_topics(bootstrap, [raw, cameras])
            for topic in (raw, cameras):
                registry.delete_subject(f"{topic}-value", permanent=False)
