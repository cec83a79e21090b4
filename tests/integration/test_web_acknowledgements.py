"""Alert acknowledgement as an event, end to end: a real worker (web views, projections) over
Kafka, the schema registry and PostgreSQL.

Acknowledging an alert (the API or the alert page's form) sends an ``AlertAcknowledgement``
to its topic before the store shows it; the alerts projection keeps one sent by another
worker; and when the alerts and their acknowledgements are emptied and the alerts written
again, ``alpr projections rebuild --store acknowledgements`` brings every acknowledgement
back, with who gave it, when and the note.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from config.settings import Settings
from streams.codec import AvroSchema, default_schema_cache, encode
from tests.integration.test_web_assignments import ALPR, ROOT, alert_ids, eventually, fetch
from tests.web import stack as ws
from tests.web.stack import WebStack

SCHEMA = AvroSchema.named("AlertAcknowledgement")
SHOWN = ("alert_id", "acknowledged_at", "acknowledged_by", "ack_note")


@pytest.fixture(scope="module")
def web(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    tmp = tmp_path_factory.mktemp("web-acknowledgements")
    stack = asyncio.run(ws.start(settings, tmp, "auto", rate=1000, burst=1000))
    yield stack
    asyncio.run(ws.stop(stack))


async def _send(web: WebStack, datum: dict[str, Any]) -> None:
    topic = web.topics["acknowledged"]
    value = encode(default_schema_cache().id_for(f"{topic}-value", SCHEMA), SCHEMA, datum)
    producer = AIOKafkaProducer(bootstrap_servers=web.settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=datum["alert_id"].encode())
    finally:
        await producer.stop()


def acknowledged(web: WebStack) -> list[dict[str, Any]]:
    answer = web.call("GET", "/api/alerts?acknowledged=true", "admin")
    assert answer.status_code == 200, answer.text
    return sorted(
        ({name: a[name] for name in SHOWN} for a in answer.json()["items"]),
        key=lambda a: a["alert_id"],
    )


def rebuild_the_alerts_table(web: WebStack) -> None:
    """What replaying ``alpr.alerts`` into an empty table does: each alert back as raised."""
    columns = "alert_id, rule_id, event_id, captured_at, plate, camera_id, severity, raised_at"
    alerts = fetch(web, f"SELECT {columns} FROM alerts")
    fetch(web, "DELETE FROM alerts")
    for row in alerts:
        fetch(web, f"INSERT INTO alerts ({columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
              *row.values())  # fmt: skip


def test_acknowledgements_are_events_and_a_rebuild_brings_them_back(web: WebStack) -> None:
    asyncio.run(ws.fresh_keys(web))
    first, second, third = (f"alert-{web.unique}-{n}" for n in range(3))
    answer = web.call("POST", f"/api/alerts/{first}/ack", "operator", json={"note": "on it"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["ack_note"] == "on it"
    assert answer.json()["acknowledged_by"].startswith("test operator (")
    again = web.call("POST", f"/api/alerts/{first}/ack", "admin", json={"note": "me too"})
    assert again.status_code == 200 and again.json() == answer.json()  # the first one stays
    form = web.call(
        "POST", f"/alerts/{second}/ack", "operator",
        data={"note": "from the page", "back": "alert", "reason": ""},
    )  # fmt: skip
    assert form.status_code == 303, form.text
    page = web.call("GET", f"/alerts/{second}", "admin")
    assert page.status_code == 200 and "from the page" in page.text
    assert web.call("POST", f"/api/alerts/{third}/ack", "viewer").status_code == 403

    events = asyncio.run(ws.topic_events(web, "acknowledged", "AlertAcknowledgement"))
    assert sorted((e["alert_id"], e["note"], e["owner"]) for e in events) == [
        (first, "on it", "test operator"), (second, "from the page", "test operator"),
    ]  # fmt: skip

    # Another worker's acknowledgement: only the projection writes it here.
    asyncio.run(_send(web, {
        "acknowledgement_id": str(uuid.uuid4()), "alert_id": third, "key_id": "k-elsewhere",
        "owner": "desk 9", "acknowledged_at": datetime.now(UTC), "note": None,
    }))  # fmt: skip
    eventually(
        "the acknowledgement projection",
        lambda: True if third in alert_ids(web, "acknowledged=true") else None,
    )
    before = acknowledged(web)
    assert [a["alert_id"] for a in before] == sorted([first, second, third])
    assert before[2]["acknowledged_by"] == "desk 9 (k-elsewhere)"

    # The stores are lost; the topics are not.
    rebuild_the_alerts_table(web)
    fetch(web, "TRUNCATE alert_acknowledgements")
    assert acknowledged(web) == []
    env = {**os.environ, **web.env("auto", 1000, 1000)}
    done = subprocess.run(
        [str(ALPR), "projections", "rebuild", "--store", "acknowledgements"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "acknowledgements: 3 messages replayed, 3 kept" in done.stdout, done.stdout
    assert acknowledged(web) == before
