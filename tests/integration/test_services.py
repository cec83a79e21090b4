"""Every service of the local stack, through the clients the project uses."""

from __future__ import annotations

import asyncio
import json
import mailbox
import subprocess
import time
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import pytest

from config.settings import Settings
from tests.integration.conftest import require_port

ROOT = Path(__file__).resolve().parents[2]


async def test_kafka_message_round_trip(settings: Settings, unique: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    require_port(settings.kafka.bootstrap_servers.split(",")[0], "Kafka")
    topic = f"alpr.test.services.{unique}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
        await producer.start()
        try:
            meta = await producer.send_and_wait(topic, b"plate AB123CD", key=b"cam-1")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=settings.kafka.bootstrap_servers,
            auto_offset_reset="earliest",
            group_id=f"alpr-test-{unique}",
        )
        await consumer.start()
        try:
            msg = await asyncio.wait_for(consumer.getone(), timeout=30)
        finally:
            await consumer.stop()
        assert (msg.key, msg.value) == (b"cam-1", b"plate AB123CD")
        assert (msg.partition, msg.offset) == (meta.partition, meta.offset)
        assert len(await admin.describe_topics([topic])) == 1
    finally:
        await admin.delete_topics([topic])
        await admin.close()


def test_registry_registers_and_serves_a_schema(settings: Settings, unique: str) -> None:
    from streams.registry import SchemaRegistryClient

    require_port(settings.schema_registry.url, "Schema registry")
    client = SchemaRegistryClient(settings.schema_registry.url)
    subject = f"alpr-test-{unique}-value"
    schema = json.dumps(
        {
            "type": "record",
            "name": "Probe",
            "namespace": "alpr.test",
            "fields": [{"name": "plate", "type": "string"}],
        }
    )
    try:
        schema_id = client.register(subject, schema)
        assert client.register(subject, schema) == schema_id, "same schema, same id"
        fetched = json.loads(client.schema_by_id(schema_id))
        assert fetched["name"] == "Probe"
        assert fetched["fields"] == [{"name": "plate", "type": "string"}]
        assert client.versions(subject) == [1]
    finally:
        client.delete_subject(subject)
        client.delete_subject(subject, permanent=True)


async def test_postgres_row_round_trip(settings: Settings, unique: str) -> None:
    import asyncpg

    require_port(settings.postgres.dsn.replace("postgresql://", "tcp://"), "PostgreSQL")
    conn = await asyncpg.connect(settings.postgres.dsn)
    table = f"alpr_test_{unique}"
    try:
        await conn.execute(f"create table {table} (id uuid primary key, plate text not null)")
        await conn.execute(
            f"insert into {table} values ('1b4e28ba-2fa1-11d2-883f-0016d3cca427', $1)", "AB123CD"
        )
        row = await conn.fetchrow(f"select id::text, plate from {table}")
        assert dict(row) == {"id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "plate": "AB123CD"}
        version = await conn.fetchval("select current_setting('server_version_num')::int")
        assert version // 10000 == 15
    finally:
        await conn.execute(f"drop table if exists {table}")
        await conn.close()


async def test_elasticsearch_index_and_search(settings: Settings, unique: str) -> None:
    from elasticsearch import AsyncElasticsearch

    require_port(settings.elasticsearch.url, "Elasticsearch")
    es = AsyncElasticsearch(settings.elasticsearch.url)
    index = f"alpr-test-{unique}"
    try:
        await es.indices.create(
            index=index,
            mappings={"properties": {"plate": {"type": "keyword"}, "seen": {"type": "date"}}},
        )
        await es.index(
            index=index, id="e1", document={"plate": "AB123CD", "seen": "2026-11-25T10:00:00Z"}
        )
        await es.index(
            index=index, id="e2", document={"plate": "ZZ999ZZ", "seen": "2026-11-25T11:00:00Z"}
        )
        await es.indices.refresh(index=index)
        found = await es.search(index=index, query={"term": {"plate": "AB123CD"}})
        assert [hit["_id"] for hit in found["hits"]["hits"]] == ["e1"]
        fuzzy = await es.search(
            index=index, query={"fuzzy": {"plate": {"value": "AB128CD", "fuzziness": 1}}}
        )
        assert [hit["_id"] for hit in fuzzy["hits"]["hits"]] == ["e1"]
        nodes = await es.nodes.info(node_id="_local", metric="settings")
        (node,) = nodes["nodes"].values()
        assert node["version"].startswith("8.")
    finally:
        await es.options(ignore_status=404).indices.delete(index=index)
        await es.close()


async def test_s3_put_tag_get_and_presign(settings: Settings, unique: str) -> None:
    from aiobotocore.session import get_session

    s3 = settings.s3
    require_port(s3.endpoint, "S3")
    bucket = f"alpr-test-{unique}"
    async with get_session().create_client("s3", **s3.client_kwargs()) as client:
        await client.create_bucket(Bucket=bucket)
        try:
            body = b"\x89PNG fake crop bytes"
            await client.put_object(
                Bucket=bucket,
                Key="cam-1/crop.png",
                Body=body,
                ContentType="image/png",
                Tagging="camera=cam-1&plate=AB123CD",
            )
            tags = await client.get_object_tagging(Bucket=bucket, Key="cam-1/crop.png")
            assert {t["Key"]: t["Value"] for t in tags["TagSet"]} == {
                "camera": "cam-1",
                "plate": "AB123CD",
            }
            got = await client.get_object(Bucket=bucket, Key="cam-1/crop.png")
            async with got["Body"] as stream:
                assert await stream.read() == body
            url = await client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": "cam-1/crop.png"}, ExpiresIn=60
            )
            with urllib.request.urlopen(url, timeout=10) as resp:
                assert resp.read() == body
                assert resp.headers["Content-Type"] == "image/png"
        finally:
            listed = await client.list_objects_v2(Bucket=bucket)
            for obj in listed.get("Contents", []):
                await client.delete_object(Bucket=bucket, Key=obj["Key"])
            await client.delete_bucket(Bucket=bucket)


async def test_smtp_delivers_an_email(settings: Settings, unique: str, smtp_maildir: str) -> None:
    import aiosmtplib

    require_port(f"tcp://{settings.smtp.host}:{settings.smtp.port}", "SMTP")
    message = EmailMessage()
    message["From"] = settings.smtp.sender
    message["To"] = "security@example.test"
    message["Subject"] = f"ALPR test {unique}"
    message.set_content("Plate AB123CD seen at cam-1")
    await aiosmtplib.send(message, hostname=settings.smtp.host, port=settings.smtp.port)

    deadline = time.monotonic() + 10
    subjects: list[str] = []
    while time.monotonic() < deadline:
        subjects = [str(m["Subject"]) for m in mailbox.Maildir(smtp_maildir, create=False)]
        if message["Subject"] in subjects:
            break
        await asyncio.sleep(0.2)
    assert message["Subject"] in subjects


def test_faust_worker_answers_health(settings: Settings, tmp_path: Path) -> None:
    from ops.worker import WorkerProcess, free_port

    require_port(settings.kafka.bootstrap_servers.split(",")[0], "Kafka")
    with WorkerProcess(tmp_path, free_port()) as worker:
        assert worker.process is not None
        deadline = time.monotonic() + 90
        body = None
        while body is None and time.monotonic() < deadline and worker.process.poll() is None:
            body = worker.health()
            time.sleep(0.2)
        assert body is not None, f"worker never answered /health; log tail:\n{worker.log_tail()}"
        assert body["status"] == "ok"
        assert body["app"] == settings.faust.app_id
    assert worker.process.returncode is not None, "the worker is stopped on exit"


@pytest.mark.parametrize(
    "service", ["kafka", "registry", "postgres", "elasticsearch", "s3", "smtp"]
)
def test_stack_status_probes_each_service(service: str) -> None:
    out = subprocess.run(
        [str(ROOT / "ops" / "stack"), "status", service], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    (line,) = [ln for ln in out.stdout.splitlines() if ln.startswith(service)]
    assert " healthy " in line
