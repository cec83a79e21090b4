"""The JSON API end to end: a real worker over PostgreSQL and Elasticsearch holding known
reads, crops in S3, camera heartbeats on Kafka; every role, and bad input of every kind.

Each backend (Elasticsearch, then PostgreSQL) gets its own worker and runs every test, since
both must keep the same contract. Each test has fresh keys, so rate limits never carry over.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from aiokafka import AIOKafkaProducer

from config.settings import Settings
from streams.codec import default_schema_cache
from tests.support.streams import encode_plate_event
from tests.web import stack as ws
from tests.web.stack import LOOKALIKE, PLATE, WebStack

#: Requests each key may make at once; the refill (one per 10 s) is too slow to matter here.
BURST = 60


@pytest.fixture(scope="module", params=["elasticsearch", "postgres"])
def web(
    request: pytest.FixtureRequest, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebStack]:
    tmp: Path = tmp_path_factory.mktemp(f"web-{request.param}")
    stack = asyncio.run(ws.start(settings, tmp, request.param, rate=0.1, burst=BURST))
    yield stack
    asyncio.run(ws.stop(stack))


@pytest.fixture
def api(web: WebStack) -> WebStack:
    asyncio.run(ws.fresh_keys(web))
    return web


def error_of(response: requests.Response, status: int) -> str:
    """The error code of a JSON error answer with ``status`` and a non-empty message."""
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["message"].strip() and body["code"].strip()
    return str(body["code"])


def test_the_exact_plate_ranks_first_and_a_look_alike_matches_with_a_reason(
    api: WebStack,
) -> None:
    found = api.call("GET", f"/api/plates/search?q={PLATE}&reason=case+4100", "viewer")
    assert found.status_code == 200, found.text
    hits = found.json()["items"]
    assert hits[0]["plate"] == PLATE and hits[0]["match"] == "exact"
    assert hits[0]["sightings"] == 12
    twin = next(h for h in hits if h["plate"] == LOOKALIKE)
    assert twin["match"] == "fuzzy" and twin["reason"] and twin["sightings"] == 2
    prefix = api.call("GET", f"/api/plates/search?q={PLATE[:4]}&limit=50", "operator").json()
    assert any(h["plate"] == PLATE and h["match"] == "prefix" for h in prefix["items"])
    assert all(h["plate"].startswith(PLATE[:4]) for h in prefix["items"] if h["match"] == "prefix")


def test_viewers_must_give_a_reason_operators_and_admins_need_not(api: WebStack) -> None:
    missing = api.call("GET", f"/api/plates/search?q={PLATE}", "viewer")
    assert error_of(missing, 400) == "reason_required"
    assert "reason" in missing.json()["error"]["message"]
    assert error_of(api.call("GET", f"/api/plates/{PLATE}", "viewer"), 400) == "reason_required"
    for role in ("operator", "admin"):
        assert api.call("GET", f"/api/plates/search?q={PLATE}", role).status_code == 200


def test_a_history_pages_newest_first_without_gaps_or_repeats(api: WebStack) -> None:
    seen: list[dict[str, object]] = []
    cursor = ""
    for _ in range(5):
        page = api.call(
            "GET", f"/api/plates/{PLATE.lower()}?limit=5&reason=ref+0001{cursor}", "viewer"
        )
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["plate"] == PLATE
        seen.extend(body["items"])
        if body["next_cursor"] is None:
            break
        cursor = f"&cursor={quote(body['next_cursor'])}"
    assert len(seen) == 12 and len({s["event_id"] for s in seen}) == 12
    times = [str(s["captured_at"]) for s in seen]
    assert times == sorted(times, reverse=True)
    assert all(str(s["plate_crop_url"]).startswith("/api/images/") for s in seen)


def test_an_image_redirects_to_the_real_object_in_s3(api: WebStack) -> None:
    history = api.call("GET", f"/api/plates/{PLATE}?limit=1&reason=ref+0002", "viewer")
    sighting = history.json()["items"][0]
    redirect = api.call("GET", sighting["plate_crop_url"], "viewer")  # a link signed for it
    assert redirect.status_code == 302, redirect.text
    image = requests.get(redirect.headers["Location"], timeout=10)
    assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"  # a JPEG
    no_vehicle = api.call("GET", f"/api/images/{sighting['event_id']}/vehicle", "admin")
    assert error_of(no_vehicle, 404) == "not_found"
    assert error_of(api.call("GET", "/api/images/no-such-read/plate", "admin"), 404)
    assert error_of(api.call("GET", f"/api/images/{sighting['event_id']}/face", "viewer"), 400)


def test_every_lookup_is_audited_and_only_admins_read_the_log(api: WebStack) -> None:
    api.call("GET", f"/api/plates/search?q={PLATE}&reason=ticket+9001", "viewer")
    api.call("GET", f"/api/plates/{PLATE}?reason=ticket+9002&limit=3", "viewer")
    log = api.call("GET", "/api/audit?limit=200", "admin")
    assert log.status_code == 200, log.text
    records = {r["reason"]: r for r in log.json()["items"]}
    assert records["ticket 9001"]["kind"] == "search" and records["ticket 9001"]["results"] >= 2
    assert records["ticket 9002"]["kind"] == "plate" and records["ticket 9002"]["results"] == 3
    assert records["ticket 9002"]["query"] == PLATE and records["ticket 9002"]["actor"]
    for role in ("viewer", "operator"):
        assert error_of(api.call("GET", "/api/audit", role), 403) == "forbidden"
    page = api.call("GET", "/api/audit?limit=1", "admin").json()
    older = api.call("GET", f"/api/audit?limit=1&cursor={page['next_cursor']}", "admin").json()
    assert older["items"][0]["id"] < page["items"][0]["id"]


def test_missing_malformed_unknown_and_revoked_keys_are_refused(api: WebStack) -> None:
    assert error_of(api.call("GET", "/api/events", None), 401) == "unauthenticated"
    basic = api.call("GET", "/api/events", None, headers={"Authorization": "Basic eDp5"})
    assert error_of(basic, 401) == "bad_authorization"
    made_up = api.call("GET", "/api/events", None, headers={"Authorization": "Bearer alpr_x"})
    assert error_of(made_up, 401) == "unknown_key"
    assert made_up.headers["WWW-Authenticate"].startswith("Bearer")

    async def revoke() -> None:
        import asyncpg

        from web.auth.keys import KeyStore, hash_key

        conn = await asyncpg.connect(api.dsn)
        try:
            key_id = await conn.fetchval(
                "SELECT key_id FROM api_keys WHERE key_hash = $1", hash_key(api.keys["viewer"])
            )
            await KeyStore(conn).revoke(key_id)
        finally:
            await conn.close()

    asyncio.run(revoke())
    assert error_of(api.call("GET", "/api/events", "viewer"), 401) == "revoked_key"


def test_roles_gate_acknowledging_alerts_and_managing_rules(api: WebStack) -> None:
    alerts = api.call("GET", "/api/alerts?acknowledged=false&reason=ref+0003", "viewer")
    assert alerts.status_code == 200, alerts.text
    alert_id = alerts.json()["items"][0]["alert_id"]
    assert error_of(api.call("POST", f"/api/alerts/{alert_id}/ack", "viewer"), 403)
    acked = api.call("POST", f"/api/alerts/{alert_id}/ack", "operator", json={"note": "on it"})
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_by"].startswith("test operator")
    assert acked.json()["ack_note"] == "on it"
    done = api.call("GET", "/api/alerts?acknowledged=true&reason=ref+0003", "viewer").json()
    done = done["items"]
    assert alert_id in {a["alert_id"] for a in done}
    assert error_of(api.call("POST", "/api/alerts/no-such-alert/ack", "admin"), 404)
    for role in ("viewer", "operator"):
        assert error_of(api.call("GET", "/api/rules", role), 403) == "forbidden"


def test_admins_add_change_and_remove_rules_on_the_rule_topic(api: WebStack) -> None:
    rule = {"name": f"watch-{api.unique}", "type": "watchlist", "plates": [PLATE]}
    created = api.call("POST", "/api/rules", "admin", json=rule)
    assert created.status_code == 201, created.text
    assert error_of(api.call("POST", "/api/rules", "admin", json=rule), 409) == "rule_exists"
    listed = api.call("GET", "/api/rules", "admin").json()["items"]
    assert [r["name"] for r in listed] == [rule["name"]]
    changed = api.call(
        "PUT", f"/api/rules/{rule['name']}", "admin", json={**rule, "severity": "critical"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] != created.json()["version"]
    invalid = api.call("POST", "/api/rules", "admin", json={"name": "x", "type": "watchlist"})
    assert error_of(invalid, 422) == "invalid_rule" and "plates" in invalid.text
    assert error_of(api.call("POST", "/api/rules", "admin", data=b"{nope"), 400) == "bad_json"
    assert api.call("DELETE", f"/api/rules/{rule['name']}", "admin").status_code == 200
    assert error_of(api.call("GET", f"/api/rules/{rule['name']}", "admin"), 404)


def test_events_cameras_and_stats_answer_with_the_loaded_data(api: WebStack) -> None:
    query = "camera=cam-1&min_confidence=0.8&limit=20&reason=ref+0004"
    events = api.call("GET", f"/api/events?{query}", "viewer")
    assert events.status_code == 200, events.text
    items = events.json()["items"]
    assert items and all(e["camera_id"] == "cam-1" and e["confidence"] >= 0.8 for e in items)
    cameras = {c["camera_id"]: c for c in api.call("GET", "/api/cameras", "viewer").json()["items"]}
    assert cameras["cam-0"]["health"] == "ok" and cameras["cam-0"]["name"] == "Gate 0"
    assert cameras["cam-1"]["health"] == "down"
    stats = api.call("GET", "/api/stats?hours=72", "viewer").json()
    assert sum(c["reads"] for c in stats["items"]) == len(api.reads)


BAD_INPUT = [
    ("/api/plates/search?q=AB$%25", "bad_plate"),
    ("/api/plates/search?q=", "missing_q"),
    ("/api/plates/search?q=" + "A" * 500, "bad_plate"),
    ("/api/plates/search?q=' OR '1'='1", "bad_plate"),
    ("/api/plates/search?q=AB12&limit=0", "bad_limit"),
    ("/api/plates/search?q=AB12&limit=201", "bad_limit"),
    ("/api/plates/search?q=AB12&limit=99999999999999999999", "bad_limit"),
    ("/api/plates/search?q=AB12&limit=-5", "bad_limit"),
    ("/api/plates/search?q=AB12&limit=ten", "bad_limit"),
    ("/api/plates/A", "bad_plate"),
    ("/api/plates/ABCDEFGHIJKLMNOP", "bad_plate"),
    (f"/api/plates/{quote(chr(39) + '; DROP TABLE plate_reads; --')}", "bad_plate"),
    (f"/api/plates/{PLATE}?cursor=not-a-cursor", "bad_cursor"),
    (f"/api/plates/{PLATE}?cursor=eyJ2IjoxfQ", "bad_cursor"),
    ("/api/events?since=yesterday", "bad_since"),
    ("/api/events?until=2026-13-45T00:00:00Z", "bad_until"),
    ("/api/events?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "bad_range"),
    ("/api/events?min_confidence=2", "bad_min_confidence"),
    ("/api/events?min_confidence=nan", "bad_min_confidence"),
    ("/api/events?camera=x%27%20OR%20%271%27%3D%271", "bad_query"),
    ("/api/events?cursor=%00%01", "bad_cursor"),
    ("/api/alerts?acknowledged=maybe", "bad_acknowledged"),
    ("/api/alerts?severity=%3Cscript%3E", "bad_query"),
    ("/api/stats?hours=100000", "bad_hours"),
    ("/api/audit?cursor=1%20OR%201%3D1", "bad_cursor"),
]


def test_bad_input_is_a_4xx_with_a_clear_message_never_a_5xx(api: WebStack) -> None:
    wrong = []
    for path, code in BAD_INPUT:
        response = api.call("GET", path, "admin")
        if response.status_code != 400 or response.json()["error"]["code"] != code:
            wrong.append((path, response.status_code, response.text[:200]))
    assert not wrong, wrong
    assert error_of(api.call("POST", "/api/events", "admin"), 405) == "method_not_allowed"
    assert error_of(api.call("GET", "/api/nothing-here", "admin"), 404) == "not_found"


def test_a_key_over_its_rate_gets_429_with_retry_after(api: WebStack) -> None:
    statuses = [api.call("GET", "/api/cameras", "viewer") for _ in range(BURST + 10)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, [r.status_code for r in statuses]
    assert error_of(limited[0], 429) == "rate_limited"
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert api.call("GET", "/api/cameras", "operator").status_code == 200  # other keys unaffected


def test_the_openapi_document_and_the_metrics_are_served(api: WebStack) -> None:
    document = requests.get(api.url + "/api/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.")
    assert {"/api/plates/search", "/api/plates/{plate}", "/api/rules"} <= set(document["paths"])
    api.call("GET", f"/api/plates/search?q={PLATE}", "admin")
    metrics = requests.get(api.url + "/metrics", timeout=10).text
    assert 'alpr_web_requests_total{status="200",view="PlateSearch"}' in metrics
    assert 'alpr_web_audited_lookups_total{kind="search"}' in metrics


async def _produce_raw(api: WebStack, **fields: Any) -> str:
    """A PlateEvent as an edge publishes it, on the stack's raw topic; its event id."""
    event_id = str(uuid.uuid4())
    value = encode_plate_event(
        default_schema_cache(), f"{api.topics['raw']}-value", event_id=event_id,
        site_id="site-0", camera_id="cam-0", captured_at=datetime.now(UTC), **fields,
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=api.settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(api.topics["raw"], value, key=event_id.encode())
    finally:
        await producer.stop()
    return event_id


def event_ids(api: WebStack, query: str) -> list[str]:
    found = api.call("GET", f"/api/events?{query}&reason=case+4242", "viewer")
    assert found.status_code == 200, found.text
    return [item["event_id"] for item in found.json()["items"]]


def test_a_read_an_edge_publishes_with_a_colour_is_found_by_its_colour(api: WebStack) -> None:
    # Through the worker's router and projections into this backend's store; no loaded read
    # is purple.
    event_id = asyncio.run(
        _produce_raw(api, plate_text="PU12 RPL", vehicle_type="van", vehicle_colour="purple")
    )
    deadline = time.monotonic() + 90
    while not (found := event_ids(api, "vehicle_colour=Purple")) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert found == [event_id]
    only = api.call("GET", "/api/events?vehicle_colour=purple&reason=case+4242", "viewer")
    (item,) = only.json()["items"]
    assert (item["plate"], item["vehicle_colour"], item["vehicle_type"]) == (
        "PU12RPL", "purple", "van"
    )  # fmt: skip
    assert event_ids(api, "vehicle_colour=purple&vehicle_type=van") == [event_id]
    assert event_ids(api, "vehicle_colour=purple&vehicle_type=car") == []
    assert event_id not in event_ids(api, "vehicle_colour=red&limit=200")
    bad = api.call("GET", "/api/events?vehicle_colour=red%27--", "admin")
    assert error_of(bad, 400) == "bad_query"
