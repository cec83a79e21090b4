"""A worker serving the web views over real stores holding known data, for the web
integration tests (``tests/integration/test_web_*.py``).

Everything is the test's own: Kafka topics, the Faust app id, a PostgreSQL database, an
Elasticsearch index prefix and S3 object keys; all of it is removed afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import requests

from config.settings import Settings
from ops.bootstrap import create_bucket
from ops.worker import WorkerProcess, free_port
from stores.migrations import migrate
from tests.integration.conftest import require_port
from tests.support.isolated import IsolatedRun
from tests.support.stores import create_database, drop_database
from tests.support.streams import create_topics
from web.auth.keys import KeyStore
from web.auth.roles import ROLES, Role

PARTITIONS = 2
#: The plate the tests look up: many sightings, crops in S3, and a look-alike sibling.
PLATE = "WX70ABC"
LOOKALIKE = "WX7OA8C"
TOPICS = ("raw", "detected", "dlq", "cameras", "rules", "alerts", "assigned", "acknowledged")


@dataclass
class WebStack:
    settings: Settings
    unique: str
    dsn: str
    prefix: str
    topics: dict[str, str]
    reads: list[dict[str, Any]] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)
    crop_keys: list[str] = field(default_factory=list)
    worker: WorkerProcess | None = None

    @property
    def url(self) -> str:
        assert self.worker is not None
        return self.worker.web_url

    def env(self, backend: str, rate_per_s: float, burst: int) -> dict[str, str]:
        return {
            "ALPR_FAUST__APP_ID": IsolatedRun("test", self.unique).app_id,
            "ALPR_KAFKA__PARTITIONS": str(PARTITIONS),
            **{f"ALPR_TOPICS__{t.upper()}": self.topics[t] for t in TOPICS[:4]},
            "ALPR_RULES__TOPIC": self.topics["rules"],
            "ALPR_RULES__ALERTS_TOPIC": self.topics["alerts"],
            "ALPR_TOPICS__ASSIGNED": self.topics["assigned"],
            "ALPR_TOPICS__ACKNOWLEDGED": self.topics["acknowledged"],
            "ALPR_POSTGRES__DSN": self.dsn,
            "ALPR_ELASTICSEARCH__INDEX_PREFIX": self.prefix,
            "ALPR_LOOKUP__SEARCH_BACKEND": backend,
            "ALPR_WEB__RATE_PER_S": str(rate_per_s),
            "ALPR_WEB__RATE_BURST": str(burst),
        }

    def call(
        self, method: str, path: str, role: Role | None = "admin", **kwargs: Any
    ) -> requests.Response:
        """One request to the worker, with the key of ``role`` (None: no key)."""
        headers = dict(kwargs.pop("headers", {}))
        if role is not None:
            headers["Authorization"] = f"Bearer {self.keys[role]}"
        return requests.request(
            method, self.url + path, headers=headers, timeout=30, allow_redirects=False, **kwargs
        )


async def fresh_keys(stack: WebStack) -> dict[str, str]:
    """A new key of every role (each with a full rate-limit bucket), set as ``stack.keys``."""
    conn = await asyncpg.connect(stack.dsn)
    try:
        store = KeyStore(conn)
        stack.keys = {role: (await store.create(role, f"test {role}"))[1] for role in ROLES}
    finally:
        await conn.close()
    return stack.keys


def crop_jpeg(text: str) -> bytes:
    """A small real JPEG showing ``text``, as a plate crop."""
    import cv2
    import numpy as np

    image = np.full((60, 240, 3), 235, dtype=np.uint8)
    cv2.putText(image, text, (8, 44), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (20, 20, 20), 3)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return bytes(data.tobytes())


def known_reads(unique: str) -> list[dict[str, Any]]:
    """Reads of many plates over two days, plus twelve of ``PLATE`` and two of its look-alike."""
    from tests.support.lookup import plate_pool, reads

    now = datetime.now(UTC).replace(microsecond=0)
    batch = list(reads(400, plate_pool(80), now - timedelta(days=2), timedelta(days=2)))
    for n in range(14):
        read = dict(batch[n])
        read.update(
            event_id=str(uuid.uuid4()), plate_text=PLATE if n < 12 else LOOKALIKE,
            captured_at=now - timedelta(hours=3 * n, minutes=5),
            plate_crop_key=f"test-{unique}/{n}.jpg", vehicle_image_key=None,
        )  # fmt: skip
        read.pop("plate", None), read.pop("search_key", None)
        batch.append(_normalised(read))
    return batch


def _normalised(read: dict[str, Any]) -> dict[str, Any]:
    from tests.support.stores import plate_read_datum

    return plate_read_datum(**read)


async def _load(stack: WebStack) -> None:
    from elasticsearch import AsyncElasticsearch

    from tests.support.lookup import load_es, load_pg

    conn = await asyncpg.connect(stack.dsn)
    try:
        await migrate(conn)
        await conn.execute(
            "INSERT INTO cameras (camera_id, site_id, name, zone) VALUES"
            " ('cam-0', 'site-0', 'Gate 0', 'A'), ('cam-1', 'site-1', 'Gate 1', 'B')"
        )
        now = datetime.now(UTC)
        for n, read in enumerate(r for r in stack.reads if r["plate"] == PLATE):
            if n < 3:
                await conn.execute(
                    "INSERT INTO alerts (alert_id, rule_id, event_id, captured_at, plate,"
                    " camera_id, severity, raised_at) VALUES ($1, 'stolen', $2, $3, $4, $5,"
                    " 'critical', $6)",
                    f"alert-{stack.unique}-{n}", read["event_id"], read["captured_at"],
                    read["plate"], read["camera_id"], now - timedelta(minutes=n),
                )  # fmt: skip
    finally:
        await conn.close()
    await load_pg(stack.dsn, stack.reads)
    es = AsyncElasticsearch(stack.settings.elasticsearch.url)
    try:
        await load_es(es, stack.prefix, stack.reads)
    finally:
        await es.close()


async def _put_crops(stack: WebStack) -> None:
    from aiobotocore.session import get_session

    s3 = stack.settings.s3
    async with get_session().create_client("s3", **s3.client_kwargs()) as client:
        for read in stack.reads:
            key = read.get("plate_crop_key") or ""
            if key.startswith(f"test-{stack.unique}/"):
                await client.put_object(
                    Bucket=s3.bucket, Key=key, Body=crop_jpeg(read["plate"]),
                    ContentType="image/jpeg",
                )  # fmt: skip
                stack.crop_keys.append(key)


async def _camera_statuses(stack: WebStack) -> None:
    from aiokafka import AIOKafkaProducer

    from edge.publish.events import camera_status_datum
    from streams.codec import AvroSchema, default_schema_cache, encode

    topic = stack.topics["cameras"]
    schema = AvroSchema.named("CameraStatus")
    schema_id = default_schema_cache().id_for(f"{topic}-value", schema)
    now = datetime.now(UTC).timestamp()
    producer = AIOKafkaProducer(bootstrap_servers=stack.settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        for camera, state in (("cam-0", "online"), ("cam-1", "offline")):
            datum = camera_status_datum(
                "site-0", camera, state, name=f"Gate {camera[-1]}", fps=10.0, frames_dropped=0,
                last_read_at=now - 60, message=None, reported_at=now,
            )  # fmt: skip
            value = encode(schema_id, schema, datum)
            await producer.send_and_wait(topic, key=camera.encode(), value=value)
    finally:
        await producer.stop()


async def start(
    settings: Settings, tmp: Path, backend: str, rate: float, burst: int,
    override: dict[str, str] | None = None,
) -> WebStack:  # fmt: skip
    """Create the stores, load them, and start a worker serving the web views (with the
    ``override`` settings, e.g. a store address where nothing answers)."""
    require_port(settings.kafka.bootstrap_servers, "Kafka")
    require_port(settings.schema_registry.url, "schema registry")
    require_port(settings.postgres.dsn.split("@")[-1].split("/")[0], "PostgreSQL")
    require_port(settings.elasticsearch.url, "Elasticsearch")
    require_port(settings.s3.endpoint, "S3")
    unique = uuid.uuid4().hex[:10]
    topics = {t: f"test.{unique}.{t}" for t in TOPICS}
    dsn = await create_database(settings.postgres.dsn, f"alpr_test_web_{unique}")
    stack = WebStack(settings, unique, dsn, f"tw{unique}", topics, known_reads(unique))
    try:
        await create_topics(settings.kafka.bootstrap_servers, list(topics.values()), PARTITIONS)
        await _load(stack)
        await fresh_keys(stack)
        await create_bucket(settings)
        await _put_crops(stack)
        await _camera_statuses(stack)
        env = {**stack.env(backend, rate, burst), **(override or {})}
        worker = WorkerProcess(tmp / "worker", free_port(), env=env)
        stack.worker = worker.start()
        await asyncio.to_thread(worker.wait_ready, 180.0, PARTITIONS)
    except BaseException:
        await stop(stack)
        raise
    return stack


async def stop(stack: WebStack) -> None:
    """Stop the worker and remove everything the stack made."""
    from aiobotocore.session import get_session
    from elasticsearch import AsyncElasticsearch

    if stack.worker is not None:
        await asyncio.to_thread(stack.worker.stop)
    settings = stack.settings
    await drop_database(settings.postgres.dsn, stack.dsn.rsplit("/", 1)[-1])
    es = AsyncElasticsearch(settings.elasticsearch.url)
    try:
        await es.indices.delete(index=f"{stack.prefix}-*", ignore_unavailable=True)
        await es.options(ignore_status=404).indices.delete_index_template(
            name=f"{stack.prefix}-reads"
        )
    finally:
        await es.close()
    async with get_session().create_client("s3", **settings.s3.client_kwargs()) as client:
        for key in stack.crop_keys:
            await client.delete_object(Bucket=settings.s3.bucket, Key=key)
    # The topics and the worker's own (changelogs, batch consumers' groups' topics).
    await IsolatedRun("test", stack.unique).drop(
        settings.kafka.bootstrap_servers, settings.schema_registry.url
    )


async def topic_events(stack: WebStack, topic: str, schema: str) -> list[dict[str, Any]]:
    """Every message on the stack's ``topic`` (a key of ``stack.topics``), decoded with the
    Avro ``schema`` of that name: what the web views sent."""
    from aiokafka import AIOKafkaConsumer

    from streams.codec import AvroSchema, decode, default_schema_cache

    consumer = AIOKafkaConsumer(
        stack.topics[topic], bootstrap_servers=stack.settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest", enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()
    named, cache = AvroSchema.named(schema), default_schema_cache()
    return [decode(m.value, named, cache) for ms in batches.values() for m in ms]
