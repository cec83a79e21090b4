"""``alpr edge`` with tracing on, on the clip of real photos, against the real broker: every
plate event it publishes carries, in its Kafka headers, the context of its ``edge publish``
span, a child of the ``edge frame`` span of the frame that completed it (the root of the
trace), beside that event's ``edge spool`` span and the frame's detection and OCR spans. The
spans are read by an OTLP/HTTP receiver (``tests.support.otlp``), as a collector would."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaConsumer

from config.settings import Settings
from edge.manifest import alpr_home
from edge.video.clip import SHORT_CLIP, build_clip
from streams import tracing
from streams.codec import AvroSchema, SchemaCache, decode
from streams.registry import SchemaRegistryClient
from tests.integration.conftest import require_port
from tests.support.otlp import OtlpReceiver, Span
from tests.support.streams import create_topics, delete_topics

ALPR = Path(sys.executable).with_name("alpr")


async def _messages(bootstrap: str, topic: str) -> list[tuple[bytes, list[tuple[str, bytes]]]]:
    """(value, headers) of every message of ``topic`` (its writer has exited)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: list[tuple[bytes, list[tuple[str, bytes]]]] = []
    try:
        for _ in range(6):
            batch = await consumer.getmany(timeout_ms=1000)
            found += [(m.value, list(m.headers)) for part in batch.values() for m in part]
    finally:
        await consumer.stop()
    return found


def _site(clip: Path, camera: str, spool: Path) -> dict[str, object]:
    return {
        "site_id": "test-site",
        "cameras": [{"id": camera, "url": str(clip), "preview": True}],
        "publish": {"spool_dir": str(spool), "upload_crops": False, "metrics_port": 0},
        # PP-OCRv6, whatever this machine's registry holds: three events are its reading.
        "engine": {"ocr": {"registry": None}},
    }


async def test_each_published_event_carries_the_trace_of_its_frame(
    settings: Settings, unique: str, tmp_path: Path
) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    require_port(bootstrap, "Kafka")
    require_port(settings.schema_registry.url, "schema registry")
    samples = alpr_home() / "samples" / "plates"
    if not (samples / "labels.tsv").is_file():
        pytest.fail(f"no labelled set in {samples}: run `python -m bench.samples` first")
    clip, _ = build_clip(samples, SHORT_CLIP)
    raw, cameras = f"alpr.plates.raw.test-trace-{unique}", f"alpr.cameras.test-trace-{unique}"
    camera = f"cam-{unique}"
    config = tmp_path / "cameras.yaml"
    config.write_text(yaml.safe_dump(_site(clip, camera, tmp_path / "spool")), encoding="utf-8")
    registry = SchemaRegistryClient(settings.schema_registry.url)
    await create_topics(bootstrap, [raw, cameras], partitions=1)
    try:
        async with OtlpReceiver() as receiver:
            env = {
                **os.environ,
                "ALPR_TOPICS__RAW": raw,
                "ALPR_TOPICS__CAMERAS": cameras,
                "ALPR_EDGE_TARGETS_DIR": str(tmp_path / "targets"),
                "ALPR_TRACING__ENDPOINT": receiver.endpoint,
                "ALPR_TRACING__EXPORT_INTERVAL_S": "0.2",
            }
            done = await asyncio.to_thread(
                subprocess.run, [str(ALPR), "edge", "--config", str(config)], env=env,
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
            # The process exported its last spans at its exit (``streams.tracing.shutdown``).
            traces = dict(receiver.traces)
        cache = SchemaCache(registry)
        events = [
            (decode(value, AvroSchema.named("PlateEvent"), cache), headers)
            for value, headers in await _messages(bootstrap, raw)
        ]
    finally:
        await delete_topics(bootstrap, [raw, cameras])
        for topic in (raw, cameras):
            registry.delete_subject(f"{topic}-value", permanent=False)

    assert sum(not e["preview"] for e, _ in events) == 3, done.stdout + done.stderr
    assert any(e["preview"] for e, _ in events)
    frames: list[Span] = []
    for event, headers in events:
        (value,) = [v for n, v in headers if n == tracing.TRACEPARENT]
        _, trace_id, span_id, flags = value.decode().split("-")
        assert int(flags, 16) & 1  # sampled: every trace kept (sample_ratio 1)
        spans = {s.span_id: s for s in traces[trace_id]}
        published = spans[span_id]
        assert published.name == "edge publish" and published.service == "alpr-edge"
        assert published.attributes["alpr.event_id"] == event["event_id"]
        assert published.parent_id is not None
        root = spans[published.parent_id]
        assert root.name in {"edge frame", "edge finish"} and root.parent_id is None
        assert root.attributes["alpr.camera"] == camera
        spooled = [s for s in spans.values() if s.name == "edge spool"
                   and s.attributes["alpr.event_id"] == event["event_id"]]  # fmt: skip
        assert [s.parent_id for s in spooled] == [root.span_id]
        if root.name == "edge frame":
            frames.append(root)
    # The frames' own work: a preview's frame read its plate; detections ran in some.
    children = {
        s.name for root in frames for trace in traces.values() for s in trace
        if s.parent_id == root.span_id
    }  # fmt: skip
    assert {"edge detect", "edge ocr"} <= children, children
