"""Edge publishing through real outages of PRIVATE services this test starts and stops.

The shared stack is never stopped (other tests use it). A private single-node Kafka (KRaft,
from the stack's Kafka install, own ports and data directory) is stopped in the middle of a
stream of events and started again on the same data; a private moto S3 server is frozen
(SIGSTOP: moto keeps objects in memory only, so a restarted moto would have forgotten the
crops stored before the outage) while crops keep coming, then thawed. Events and crops are
put into the spools all along, as cameras do; afterwards every one is there exactly once,
events in order per camera. The schema registry is the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from edge.publish.events import plate_event_datum
from edge.publish.kafka import EventPublisher
from edge.publish.s3 import CropUploader
from edge.publish.sender import SpoolSender
from edge.publish.spool import Spool
from ops import probes
from ops.layout import DEFAULT_PORTS, Layout
from ops.services import S3, Kafka, Service
from ops.worker import free_port
from streams.codec import AvroSchema, SchemaCache, decode
from streams.registry import SchemaRegistryClient
from streams.retry import Backoff
from tests.integration.conftest import require_port
from tests.integration.kafka_reading import consume_topic
from tests.integration.test_edge_publish import _track_event
from tests.support.streams import create_topics, delete_topics

FAST = Backoff(first_s=0.2, max_s=1.0, jitter=0.3)
CAMERAS = ("gate-in", "gate-out")


class PrivateService:
    """One service of the stack, run from the stack's install on free ports in ``root``."""

    def __init__(self, kind: type[Service], root: Path) -> None:
        shared = Layout()
        ports = {name: free_port() for name in DEFAULT_PORTS}
        self.layout = replace(shared, root=root, ports=ports)
        root.mkdir(parents=True, exist_ok=True)
        (root / "opt").symlink_to(shared.opt)  # the installed software, read only
        self.service = kind(self.layout)
        self.log = root / f"{self.service.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        return self.layout.ports[self.service.name]

    def start(self, timeout_s: float = 120.0) -> None:
        self.service.prepare()
        launch = self.service.launch()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                launch.argv, cwd=launch.cwd, env=launch.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.process.poll() is None, f"{self.service.name} exited: see {self.log}"
            try:
                self.service.probe()
                return
            except probes.ProbeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


@pytest.fixture
def private_kafka(tmp_path: Path) -> Iterator[PrivateService]:
    kafka = PrivateService(Kafka, tmp_path / "kafka-stack")
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()


@pytest.fixture
def private_s3(tmp_path: Path) -> Iterator[PrivateService]:
    s3 = PrivateService(S3, tmp_path / "s3-stack")
    s3.start()
    try:
        yield s3
    finally:
        if s3.process is not None:
            s3.resume()
        s3.stop()


@contextlib.asynccontextmanager
async def _sending(sender: SpoolSender) -> AsyncIterator[None]:
    """The sender draining its spool in the background, as the worker runs it."""
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        await sender.close()


async def _until(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def test_events_through_a_kafka_stop_and_restart_arrive_exactly_once_in_order(
    settings: Settings, unique: str, tmp_path: Path, private_kafka: PrivateService
) -> None:
    require_port(settings.schema_registry.url, "schema registry")
    bootstrap = f"127.0.0.1:{private_kafka.port}"
    topic = f"alpr.plates.raw.test-outage-{unique}"
    await create_topics(bootstrap, [topic], partitions=2)
    registry = SchemaRegistryClient(settings.schema_registry.url)
    publisher = EventPublisher(
        Spool(tmp_path / "events.db"),
        bootstrap,
        settings.schema_registry.url,
        batch=5,
        backoff=FAST,
        request_timeout_ms=3000,
    )
    sent: dict[str, list[str]] = defaultdict(list)

    def camera_event(n: int) -> None:  # as a camera's thread spools a track's event
        camera = CAMERAS[n % 2]
        event_id = str(uuid.uuid4())
        datum = plate_event_datum("site-o", _track_event(camera, n, "5AU5341"), {}, None, event_id)
        publisher.enqueue(topic, camera, "PlateEvent", datum)
        sent[camera].append(event_id)

    try:
        async with _sending(publisher):
            for n in range(10):
                camera_event(n)
                await asyncio.sleep(0.05)
            await _until(lambda: publisher.stats.sent >= 10, 60, "the first events")
            private_kafka.stop()  # the broker goes away while cameras go on
            for n in range(10, 30):
                camera_event(n)
                await asyncio.sleep(0.05)
            await _until(lambda: publisher.stats.failures > 0, 60, "the sender to see it")
            assert publisher.spool.depth() >= 20
            private_kafka.start()  # on the same data: the first ten are still there
            for n in range(30, 40):
                camera_event(n)
            await _until(lambda: publisher.spool.depth() == 0, 120, "the spool to drain")
        messages = await consume_topic(bootstrap, topic, 40, polls=120)
        cache = SchemaCache(registry)
        got: dict[str, list[str]] = defaultdict(list)
        for message in messages:
            event = decode(message.value, AvroSchema.named("PlateEvent"), cache)
            assert message.key.decode() == event["camera_id"]
            got[event["camera_id"]].append(event["event_id"])
        for camera in CAMERAS:
            ids, want = got[camera], sent[camera]
            position = {event_id: n for n, event_id in enumerate(want)}
            report = (
                f"{camera}: {len(ids)} events for {len(want)} sent; "
                f"missing {[position[i] for i in set(want) - set(ids)]}, "
                f"twice {sorted(position.get(i, -1) for i in ids if ids.count(i) > 1)}, "
                f"order {[position.get(i, -1) for i in ids]}"
            )
            assert ids == want, report  # every event, once, in order per camera
    finally:
        publisher.spool.close()
        await delete_topics(bootstrap, [topic])
        registry.delete_subject(f"{topic}-value", permanent=False)


async def test_crops_through_an_s3_outage_are_all_stored_once_with_tags(
    settings: Settings, tmp_path: Path, private_s3: PrivateService
) -> None:
    from aiobotocore.session import get_session

    kwargs = {**settings.s3.client_kwargs(), "endpoint_url": f"http://127.0.0.1:{private_s3.port}"}
    bucket = "alpr-test-outage"
    async with get_session().create_client("s3", **kwargs) as client:
        await client.create_bucket(Bucket=bucket)
    uploader = CropUploader(
        Spool(tmp_path / "crops.db"),
        bucket,
        kwargs,
        batch=4,
        backoff=FAST,
        connect_timeout_s=1.0,
        read_timeout_s=1.0,
    )
    keys: list[str] = []

    def camera_crop(n: int) -> None:
        key = f"site-o/{CAMERAS[n % 2]}/2026/11/25/{uuid.uuid4()}-plate.jpg"
        tags = {"camera": CAMERAS[n % 2], "track": str(n), "plate": f"5AU{n:04d}"}
        uploader.enqueue(key, f"jpeg-{n}".encode(), tags)
        keys.append(key)

    try:
        async with _sending(uploader):
            for n in range(8):
                camera_crop(n)
            await _until(lambda: uploader.stats.sent >= 8, 60, "the first crops")
            private_s3.pause()  # the store stops answering while cameras go on
            for n in range(8, 20):
                camera_crop(n)
                await asyncio.sleep(0.05)
            await _until(lambda: uploader.stats.failures > 0, 60, "the uploader to see it")
            assert uploader.spool.depth() > 0
            private_s3.resume()
            for n in range(20, 24):
                camera_crop(n)
            await _until(lambda: uploader.spool.depth() == 0, 120, "the spool to drain")
        async with get_session().create_client("s3", **kwargs) as client:
            listed = await client.list_objects_v2(Bucket=bucket)
            stored = [o["Key"] for o in listed.get("Contents", [])]
            assert sorted(stored) == sorted(keys)  # every crop, once (keys are unique)
            for n in (0, 12, 23):
                got = await client.get_object(Bucket=bucket, Key=keys[n])
                assert await got["Body"].read() == f"jpeg-{n}".encode()
                tagging = await client.get_object_tagging(Bucket=bucket, Key=keys[n])
                assert {t["Key"]: t["Value"] for t in tagging["TagSet"]}["plate"] == f"5AU{n:04d}"
    finally:
        uploader.spool.close()
