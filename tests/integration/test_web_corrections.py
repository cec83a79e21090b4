"""Operators correct reads end to end: a real worker (web views and projections) over Kafka,
the schema registry, PostgreSQL, Elasticsearch and S3 (the stack's moto server).

A correction through ``POST /api/reads/{event_id}/correction`` is an event on its topic; the
projections apply it to both stores (the text first read kept); it is audited; a viewer is
refused; and ``alpr train corrections`` writes the crop and its corrected text as a labelled
example that the trainer reads.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from elasticsearch import AsyncElasticsearch

from config.settings import Settings
from edge.engine.slots_input import SlotSpec
from edge.evaluation.labels import load_set
from edge.training.corrections import export_from_stores
from edge.training.data import real_crops
from stores.es_docs import index_for
from streams.codec import AvroSchema, decode, default_schema_cache
from tests.support.isolated import IsolatedRun
from tests.web import stack as ws
from tests.web.stack import PLATE, WebStack

T = TypeVar("T")
NEW_TEXT = "wx70 abd"
NEW_PLATE = "WX70ABD"


@pytest.fixture(scope="module")
def run() -> IsolatedRun:
    return IsolatedRun("test", f"corr{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def web(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory, run: IsolatedRun
) -> Iterator[WebStack]:
    tmp: Path = tmp_path_factory.mktemp("web-corrections")
    override = {"ALPR_TOPICS__CORRECTED": run.topic("corrected")}
    stack = asyncio.run(ws.start(settings, tmp, "postgres", 0.1, 60, override))
    yield stack
    asyncio.run(ws.stop(stack))
    asyncio.run(run.drop(settings.kafka.bootstrap_servers, settings.schema_registry.url))


def eventually(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s")


async def _events(settings: Settings, topic: str) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest", enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()
    schema, cache = AvroSchema.named("ReadCorrection"), default_schema_cache()
    return [decode(m.value, schema, cache) for ms in batches.values() for m in ms]


async def _pg_read(dsn: str, event_id: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT plate, plate_text, read_text, corrected_by, corrected_at FROM plate_reads"
            " WHERE event_id = $1",
            event_id,
        )
        audit = await conn.fetch("SELECT * FROM read_corrections WHERE event_id = $1", event_id)
    finally:
        await conn.close()
    assert row is not None
    return {**dict(row), "audit": [dict(a) for a in audit]}


async def _es_doc(web: WebStack, read: dict[str, Any]) -> dict[str, Any]:
    es = AsyncElasticsearch(web.settings.elasticsearch.url)
    try:
        found = await es.get(index=index_for(web.prefix, read["captured_at"]), id=read["event_id"])
    finally:
        await es.close()
    return dict(found["_source"])


def test_an_operator_corrects_a_read_and_both_stores_show_it_with_the_first_text_kept(
    web: WebStack, run: IsolatedRun, tmp_path: Path
) -> None:
    asyncio.run(ws.fresh_keys(web))
    read = next(r for r in web.reads if r["plate"] == PLATE and r.get("plate_crop_key"))
    path = f"/api/reads/{read['event_id']}/correction"
    body = {"text": NEW_TEXT, "reason": "misread D as C, checked on video"}

    refused = web.call("POST", path, "viewer", json=body)
    assert refused.status_code == 403, refused.text
    bad = web.call("POST", path, "operator", json={**body, "text": "WX#70"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_text", bad.text
    no_reason = web.call("POST", path, "operator", json={"text": NEW_TEXT})
    assert no_reason.status_code == 400, no_reason.text
    missing = web.call("POST", f"/api/reads/{uuid.uuid4()}/correction", "operator", json=body)
    assert missing.status_code == 404, missing.text

    answer = web.call("POST", path, "operator", json=body)
    assert answer.status_code == 202, answer.text
    sent = answer.json()
    assert (sent["old_text"], sent["new_plate"]) == (PLATE, NEW_PLATE)
    assert sent["corrected_by"]["owner"] == "test operator"

    [event] = asyncio.run(_events(web.settings, run.topic("corrected")))
    assert event["event_id"] == read["event_id"] and event["new_plate"] == NEW_PLATE
    assert (event["old_text"], event["new_text"]) == (PLATE, NEW_TEXT)
    assert event["owner"] == "test operator" and event["reason"] == body["reason"]

    def pg_applied() -> dict[str, Any] | None:
        row = asyncio.run(_pg_read(web.dsn, read["event_id"]))
        return row if row["plate"] == NEW_PLATE else None

    row = eventually("the PostgreSQL projection", pg_applied)
    assert (row["plate_text"], row["read_text"]) == (NEW_TEXT, read["plate_text"])
    assert "test operator" in row["corrected_by"] and row["corrected_at"] is not None
    [audit] = row["audit"]
    assert (audit["actor"], audit["old_text"], audit["new_plate"]) == (
        "test operator", PLATE, NEW_PLATE,
    )  # fmt: skip

    def es_applied() -> dict[str, Any] | None:
        doc = asyncio.run(_es_doc(web, read))
        return doc if doc["plate"] == NEW_PLATE else None

    doc = eventually("the Elasticsearch projection", es_applied)
    assert (doc["plate_text"], doc["read_text"]) == (NEW_TEXT, read["plate_text"])

    settings = web.settings.model_copy(
        update={"postgres": web.settings.postgres.model_copy(update={"dsn": web.dsn})}
    )
    summary = asyncio.run(export_from_stores(tmp_path, settings))
    assert summary.written == 1
    [label] = load_set(tmp_path)[f"{read['event_id']}.jpg"]
    assert label.text == NEW_PLATE and label.box is not None
    assert real_crops(tmp_path, SlotSpec()).texts == (NEW_PLATE,)


def test_the_plate_page_offers_the_correction_form_to_operators_only(web: WebStack) -> None:
    asyncio.run(ws.fresh_keys(web))
    page = f"/plates/{PLATE}?reason=case+4100+stolen+car"
    operator = web.call("GET", page, "operator")
    assert operator.status_code == 200, operator.text
    assert "/correction" in operator.text and 'name="text"' in operator.text
    viewer = web.call("GET", page, "viewer")
    assert viewer.status_code == 200, viewer.text
    assert "/correction" not in viewer.text

    read = next(r for r in web.reads if r["plate"] == PLATE)
    form = {"text": "WX70ABE", "reason": "a viewer tries", "plate": PLATE}
    refused = web.call("POST", f"/reads/{read['event_id']}/correction", "viewer", data=form)
    assert refused.status_code == 403, refused.text
    bad = web.call(
        "POST", f"/reads/{read['event_id']}/correction", "operator", data={**form, "text": "#"}
    )
    assert bad.status_code == 400 and "outside A-Z" in bad.text
