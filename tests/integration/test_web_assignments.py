"""Alert assignment and each camera's latest image, end to end: a real worker (web views,
router, projections) over Kafka, the schema registry, PostgreSQL, Elasticsearch and S3.

An assignment is an event on its topic, kept by the alerts projection, shown on the alert
page and in the filtered list, audited, refused to viewers, and rebuilt from the topic by
``alpr projections rebuild --store assignments``. The cameras page shows the newest image a
camera sent, through the audited, signed image links, and says when a camera has none.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import requests
from aiokafka import AIOKafkaProducer

from config.settings import Settings
from streams.codec import AvroSchema, default_schema_cache, encode
from tests.integration.test_console_walkthrough import produce
from tests.web import stack as ws
from tests.web.stack import WebStack
from web.auth.access import AUDIT_HEADER

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
ALPR = Path(sys.executable).parent / "alpr"
REASON = "case 2020 assignments"


@pytest.fixture(scope="module")
def web(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    tmp = tmp_path_factory.mktemp("web-assignments")
    stack = asyncio.run(ws.start(settings, tmp, "auto", rate=1000, burst=1000))
    yield stack
    asyncio.run(ws.stop(stack))


def eventually(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s")


async def _fetch(dsn: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [dict(row) for row in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


def fetch(web: WebStack, sql: str, *args: Any) -> list[dict[str, Any]]:
    return asyncio.run(_fetch(web.dsn, sql, *args))


def alert_ids(web: WebStack, query: str, role: str = "admin") -> list[str]:
    answer = web.call("GET", f"/api/alerts?{query}", role)  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text
    return [a["alert_id"] for a in answer.json()["items"]]


def test_viewers_cannot_assign_and_operators_assign_to_key_owners_with_an_audit_row(
    web: WebStack,
) -> None:
    asyncio.run(ws.fresh_keys(web))
    alert = f"alert-{web.unique}-0"
    path = f"/api/alerts/{alert}/assign"
    body = {"assignee": "test admin"}

    assert web.call("POST", path, "viewer", json=body).status_code == 403
    page = web.call("POST", f"/alerts/{alert}/assign", "viewer", data=body)
    assert page.status_code == 403, page.text
    unknown = web.call("POST", path, "operator", json={"assignee": "test viewer"})
    assert unknown.status_code == 400, unknown.text
    assert unknown.json()["error"]["code"] == "unknown_assignee"  # viewers act on no alert
    missing = web.call("POST", f"/api/alerts/no-such-{uuid.uuid4().hex}/assign", json=body)
    assert missing.status_code == 404, missing.text
    assert fetch(web, "SELECT * FROM alert_assignments") == []

    answer = web.call("POST", path, "operator", json=body)
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert shown["assigned_to"] == "test admin" and "test operator" in shown["assigned_by"]
    assert shown["assigned_at"] is not None and AUDIT_HEADER in answer.headers

    [event] = asyncio.run(ws.topic_events(web, "assigned", "AlertAssignment"))
    assert (event["alert_id"], event["assignee"], event["owner"]) == (
        alert, "test admin", "test operator",
    )  # fmt: skip
    [audit] = fetch(
        web, "SELECT actor, kind, query, refused FROM search_audit WHERE id = $1",
        int(answer.headers[AUDIT_HEADER]),
    )  # fmt: skip
    assert audit == {
        "actor": "test operator", "kind": "alerts", "query": f"assign {alert} to test admin",
        "refused": None,
    }  # fmt: skip

    detail = web.call("GET", f"/alerts/{alert}", "admin")
    assert detail.status_code == 200, detail.text
    assert "Assigned to <strong>test admin</strong> by test operator" in detail.text
    assert 'id="assign"' in detail.text
    viewer_detail = web.call("GET", f"/alerts/{alert}?reason={REASON}", "viewer")
    assert "<strong>test admin</strong>" in viewer_detail.text
    assert 'id="assign"' not in viewer_detail.text

    assert alert_ids(web, "assigned_to=test+admin") == [alert]
    assert alert not in alert_ids(web, "assigned=false")
    assert alert in alert_ids(web, "assigned=true")
    mine = web.call("GET", "/alerts?assigned=me", "admin")
    assert f'id="{alert}"' in mine.text and f'id="alert-{web.unique}-1"' not in mine.text
    not_mine = web.call("GET", "/alerts?assigned=me", "operator")
    assert f'id="{alert}"' not in not_mine.text
    unassigned = web.call("GET", "/alerts?assigned=none", "operator")
    assert f'id="{alert}"' not in unassigned.text
    assert f'id="alert-{web.unique}-1"' in unassigned.text

    # The page's form takes it back (an empty assignee), and the answer goes back to the alert.
    back = web.call(
        "POST", f"/alerts/{alert}/assign", "operator",
        data={"assignee": "", "back": "alert", "reason": ""},
    )  # fmt: skip
    assert back.status_code == 303 and back.headers["Location"].startswith(f"/alerts/{alert}?")
    after = web.call("GET", f"/alerts/{alert}", "admin").text
    assert "Unassigned by test operator" in after
    assert alert in alert_ids(web, "assigned=false")


async def _send(web: WebStack, datum: dict[str, Any]) -> None:
    topic = web.topics["assigned"]
    schema = AvroSchema.named("AlertAssignment")
    value = encode(default_schema_cache().id_for(f"{topic}-value", schema), schema, datum)
    producer = AIOKafkaProducer(bootstrap_servers=web.settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=datum["alert_id"].encode())
    finally:
        await producer.stop()


def test_the_projection_keeps_assignments_and_a_rebuild_brings_them_back(web: WebStack) -> None:
    asyncio.run(ws.fresh_keys(web))
    alert = f"alert-{web.unique}-2"
    # An assignment from another worker's web views: only the projection writes it here.
    asyncio.run(_send(web, {
        "assignment_id": str(uuid.uuid4()), "alert_id": alert, "assignee": "test operator",
        "key_id": "k-elsewhere", "owner": "desk 9", "assigned_at": datetime.now(UTC),
    }))  # fmt: skip

    def projected() -> list[str] | None:
        ids = alert_ids(web, "assigned_to=test+operator")
        return ids if alert in ids else None

    eventually("the assignment projection", projected)
    answer = web.call("POST", f"/api/alerts/alert-{web.unique}-1/assign", "admin",
                      json={"assignee": "test operator"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    columns = "alert_id, assignee, assigned_by, assigned_at, assignment_id"
    before = fetch(web, f"SELECT {columns} FROM alert_assignments ORDER BY alert_id")
    assert len(before) >= 2

    # The table is lost; the topic is not.
    fetch(web, "TRUNCATE alert_assignments")
    assert alert_ids(web, "assigned_to=test+operator") == []
    env = {**os.environ, **web.env("auto", 1000, 1000)}
    done = subprocess.run(
        [str(ALPR), "projections", "rebuild", "--store", "assignments"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "not assignments" in done.stdout, done.stdout
    assert fetch(web, f"SELECT {columns} FROM alert_assignments ORDER BY alert_id") == before
    assert set(alert_ids(web, "assigned_to=test+operator")) == {
        alert, f"alert-{web.unique}-1"
    }  # fmt: skip


def test_the_cameras_page_shows_each_cameras_latest_image_through_audited_links(
    web: WebStack,
) -> None:
    asyncio.run(ws.fresh_keys(web))
    fetch(
        web, "INSERT INTO cameras (camera_id, site_id, name) VALUES ($1, 'site-9', 'Empty')"
        " ON CONFLICT DO NOTHING", "cam-empty",
    )  # fmt: skip
    event_id = produce(web, "SN4P5HT")  # through the router and projections, crop in S3

    def shown() -> requests.Response | None:
        page = web.call("GET", "/cameras", "operator")
        assert page.status_code == 200, page.text
        return page if f"/api/images/{event_id}/plate?t=" in page.text else None

    page = eventually("the new read on the cameras page", shown)
    assert ">SN4P5HT</a>" in page.text
    assert "No reads from this camera are stored." in page.text  # cam-empty
    [audit] = fetch(
        web, "SELECT actor, kind, query, results FROM search_audit WHERE id = $1",
        int(page.headers[AUDIT_HEADER]),
    )  # fmt: skip
    assert (audit["actor"], audit["kind"], audit["results"]) == ("test operator", "events", 2)
    link = page.text.split(f'src="/api/images/{event_id}/plate?t=', 1)[1].split('"', 1)[0]
    image = web.call("GET", f"/api/images/{event_id}/plate?t={link.replace('&amp;', '&')}",
                     "operator")  # fmt: skip
    assert image.status_code == 302, image.text
    crop = requests.get(image.headers["Location"], timeout=30)
    assert crop.status_code == 200 and crop.content[:2] == b"\xff\xd8"  # the JPEG itself

    # A viewer sees the cameras without a reason, and the images only with one (audited).
    asked = web.call("GET", "/cameras", "viewer")
    assert asked.status_code == 200 and 'id="cameras-reason"' in asked.text
    assert "<img" not in asked.text and AUDIT_HEADER not in asked.headers
    given = web.call("GET", f"/cameras?reason={REASON}", "viewer")
    assert given.status_code == 200 and f"/api/images/{event_id}/plate?t=" in given.text
    [row] = fetch(
        web, "SELECT reason FROM search_audit WHERE id = $1", int(given.headers[AUDIT_HEADER])
    )
    assert row["reason"] == REASON
