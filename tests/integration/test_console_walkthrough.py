"""The operator console in Debian's Chromium (Playwright), against a real worker: sign in,
watch a read arrive on the home page while the test produces it, search reads by wildcard,
time range and camera, export them as CSV and read the file back, put a plate on a new watch
list from its page, see the alert a new read of it raises appear on the alerts page without
a reload, acknowledge it with a note on its page, assign it to an operator there, take it over
from the list ("Assign to me") and find it among "my" alerts, read its PDF evidence report
and the plate's back, and see each camera's latest image on the cameras page. Each
page is photographed at 1280x900 and 390x844 (paths printed; under ``ALPR_SCREENSHOTS`` when
set, else the test's tmp dir).

A viewer's side of the access policy (a reason for every read of plate data, exports and
live streams included, each audited) is checked over plain HTTP.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import requests
from aiokafka import AIOKafkaProducer
from playwright.sync_api import FilePayload, Page, sync_playwright

from config.settings import Settings
from streams.codec import default_schema_cache
from tests.integration.test_web_browser import CHROMIUM, FLAGS, loaded
from tests.support.streams import encode_plate_event
from tests.web import stack as ws
from tests.web.evidence.reading import text_of
from tests.web.stack import PLATE, WebStack

SIZES = {"wide": (1280, 900), "phone": (390, 844)}


@pytest.fixture(scope="module")
def web(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    tmp = tmp_path_factory.mktemp("console")
    stack = asyncio.run(ws.start(settings, tmp, "auto", rate=1000, burst=1000))
    yield stack
    asyncio.run(ws.stop(stack))


@pytest.fixture
def shots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("ALPR_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), args=FLAGS,
            headless=True, viewport={"width": 1280, "height": 900}, accept_downloads=True,
        )  # fmt: skip
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def shots(page: Page, folder: Path, name: str) -> None:
    """The page at both sizes (the wide one last, as the walk goes on at that size)."""
    for size in ("phone", "wide"):
        width, height = SIZES[size]
        page.set_viewport_size({"width": width, "height": height})
        path = folder / f"{name}-{width}x{height}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")


async def _produce(web: WebStack, plate_text: str, **fields: Any) -> str:
    """A read of ``plate_text`` at cam-0 now, with its crop in S3, on the raw topic; its id.
    ``fields`` set more of the event (its vehicle's type and colour)."""
    from aiobotocore.session import get_session

    event_id = str(uuid.uuid4())
    crop = f"test-{web.unique}/live-{event_id}.jpg"
    s3 = web.settings.s3
    async with get_session().create_client("s3", **s3.client_kwargs()) as client:
        await client.put_object(
            Bucket=s3.bucket, Key=crop, Body=ws.crop_jpeg(plate_text), ContentType="image/jpeg"
        )
    web.crop_keys.append(crop)
    value = encode_plate_event(
        default_schema_cache(), f"{web.topics['raw']}-value", event_id=event_id,
        plate_text=plate_text, site_id="site-0", camera_id="cam-0", plate_crop_key=crop,
        vehicle_image_key=None, captured_at=datetime.now(UTC), **fields,
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=web.settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(web.topics["raw"], value, key=event_id.encode())
    finally:
        await producer.stop()
    return event_id


def produce(web: WebStack, plate_text: str, **fields: Any) -> str:
    """:func:`_produce` from the test's thread (Playwright's own event loop runs there)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _produce(web, plate_text, **fields)).result()


def minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def test_an_operator_walks_the_console(web: WebStack, page: Page, shots_dir: Path) -> None:
    # Sign in: the home page, who is signed in and with which role.
    page.goto(f"{web.url}/signin")
    page.fill("#key", web.keys["admin"])
    page.click("#signin button[type=submit]")
    page.wait_for_url(f"{web.url}/")
    assert page.locator("#who").inner_text() == "test admin · admin"
    assert page.locator("#reads tr.read").count() == 20
    assert page.locator("#camera-reads tbody tr").count() >= 2
    page.wait_for_selector("#reads[data-live-state=open]")
    shots(page, shots_dir, "1-home")

    # A read arrives while the page is open.
    live_id = produce(web, "LV26 NEW", vehicle_type="van", vehicle_colour="orange")
    row = page.locator(f"#reads tr#read-{live_id}")
    row.wait_for(timeout=45_000)
    assert "LV26NEW" in row.inner_text() and "Gate 0" in row.inner_text()
    assert loaded(page, f"#read-{live_id} img.thumb"), "the live read's crop did not load"
    assert page.locator("#reads tr.read").first.get_attribute("id") == f"read-{live_id}"
    shots(page, shots_dir, "2-home-live-read")

    # A wildcard from the search box goes to the reads search; add a time range and a camera.
    now = datetime.now(UTC)
    ours = sorted((r for r in web.reads if r["plate"] == PLATE), key=lambda r: r["captured_at"])
    camera = ours[-1]["camera_id"]
    since, until = minute(now - timedelta(hours=20)), minute(now + timedelta(minutes=2))
    page.goto(f"{web.url}/search")
    page.fill("#q", "wx7*")
    page.click("#search button[type=submit]")
    page.wait_for_url("**/reads?plate=wx7*")
    page.fill("#since", since.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#until", until.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#camera", camera)
    page.fill("#plate-pattern", "WX7*")
    page.click("#reads-search button[type=submit]")
    page.wait_for_selector("#read-results, #no-reads")
    expected = {
        r["event_id"] for r in web.reads
        if r["plate"].startswith("WX7") and r["camera_id"] == camera
        and since <= r["captured_at"] < until
    }  # fmt: skip
    assert expected, "the test data has no read of the plate at that camera in the range"
    shown = set(page.eval_on_selector_all("#read-results tr.read", "rs => rs.map(r => r.id)"))
    assert shown == {f"read-{e}" for e in expected}
    shots(page, shots_dir, "3-reads-search")

    # The CSV export of that search, downloaded and read back.
    with page.expect_download() as info:
        page.click("#export")
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert {r["event_id"] for r in rows} == expected
    assert {r["camera_id"] for r in rows} == {camera} and all(
        r["plate"].startswith("WX7") for r in rows
    )
    assert all(since.isoformat() <= r["captured_at_utc"] for r in rows)

    # Paging: the next page follows on from the first, which it links back to.
    page.goto(f"{web.url}/reads?since={minute(now - timedelta(days=3)).strftime('%Y-%m-%dT%H:%M')}")
    first = page.eval_on_selector_all("#read-results tr.read", "rs => rs.map(r => r.id)")
    page.click("#next-page")
    page.wait_for_url("**cursor=*")
    second = page.eval_on_selector_all("#read-results tr.read", "rs => rs.map(r => r.id)")
    assert len(first) == len(second) == 25 and not set(first) & set(second)
    assert page.locator("text=First page").count() >= 1

    # A wildcard in the middle finds the plate and not its look-alike (WX7OA8C).
    page.goto(f"{web.url}/reads?plate=*70AB*")
    plates = set(
        page.eval_on_selector_all("#read-results a.plate", "a => a.map(e => e.textContent)")
    )
    assert plates == {PLATE}

    # The vehicle's type and colour: only the live read is an orange van.
    page.goto(f"{web.url}/reads")
    page.fill("#vehicle-type", "van")
    page.fill("#vehicle-colour", "Orange")
    page.click("#reads-search button[type=submit]")
    page.wait_for_selector("#read-results, #no-reads")
    shown = set(page.eval_on_selector_all("#read-results tr.read", "rs => rs.map(r => r.id)"))
    assert shown == {f"read-{live_id}"}
    assert "orange van" in page.locator(f"#read-{live_id}").inner_text()

    # The plate's history as CSV, then the plate on a new watch list from its page.
    history = page.request.get(f"{web.url}/export/plates/{PLATE}")
    assert history.status == 200 and history.headers["x-alpr-audit-id"].isdigit()
    assert len(list(csv.DictReader(io.StringIO(history.text())))) == 12
    watchlist = f"console-{web.unique}"
    page.goto(f"{web.url}/plates/{PLATE}")
    page.fill("#watchlist-name", watchlist)
    page.select_option("#watchlist-severity", "critical")
    page.click("#watch button[type=submit]")
    page.wait_for_url(f"**/watchlists/{watchlist}")
    assert page.locator("#listed td.plate").all_inner_texts() == [PLATE]
    shots(page, shots_dir, "4-watchlist")
    upload = FilePayload(name="more.csv", mimeType="text/csv", buffer=b"plate,note\nab12 cde,x\n")
    page.set_input_files("#add-plates input[type=file]", files=[upload])
    page.click("#add-plates button[type=submit]")
    page.wait_for_selector("#listed td.plate:text-is('AB12CDE')")
    exported = page.request.get(f"{web.url}/watchlists/{watchlist}?format=csv")
    assert exported.text().splitlines() == ["plate", PLATE, "AB12CDE"]

    # A new read of the plate raises an alert that appears on the open alerts page.
    page.goto(f"{web.url}/alerts")
    page.wait_for_selector("#alert-rows[data-live-state=open]")
    before = page.locator("#alert-rows tr.alert").count()
    ours_alert = page.locator(f"#alert-rows tr.alert:has-text('{watchlist}')")
    deadline = time.monotonic() + 90
    while ours_alert.count() == 0:  # the worker applies the list within moments: read again
        assert time.monotonic() < deadline, "no alert appeared without a reload"
        produce(web, "WX70 ABC")
        page.wait_for_timeout(4000)
    assert page.locator("#alert-rows tr.alert").count() > before
    assert ours_alert.first.evaluate("r => r.classList.contains('new')")  # inserted live
    assert "critical" in ours_alert.first.inner_text()
    shots(page, shots_dir, "5-alerts-live")

    # Its page: the read that fired it, with its crop; acknowledged with a note.
    ours_alert.first.locator("a").first.click()
    page.wait_for_url(re.compile(r".*/alerts/[^/]+\?reason="))
    assert page.locator("#alert-plate").inner_text() == PLATE
    assert page.locator("#fired-by tr.read").count() >= 1
    assert loaded(page, "#fired-by img.thumb"), "the crop of the read that fired it did not load"
    page.fill("#ack-note-input", "stopped at gate 0, owner called")
    page.click("#ack button[type=submit]")
    page.wait_for_selector("#ack-note")
    state = page.locator("#ack-state").inner_text()
    assert "Acknowledged by test admin" in state and "stopped at gate 0, owner called" in state
    shots(page, shots_dir, "6-alert-acknowledged")
    page.select_option("#assignee", "test operator")
    page.click("#assign button[type=submit]")
    page.wait_for_selector("#assigned-to:has-text('test operator')")
    assert "Assigned to test operator by test admin" in page.locator("#assigned-to").inner_text()

    # Its evidence report, downloaded from its page and read back with a PDF reader.
    with page.expect_download() as info:
        page.click("#evidence")
    report = text_of(Path(info.value.path()).read_bytes())
    assert PLATE in report and f"Rule that fired {watchlist}" in report
    assert "Acknowledged by test admin" in report and "stopped at gate 0, owner called" in report
    assert "Assigned to test operator" in report and "Assigned by test admin" in report

    # The whole plate's report, from the plate's page: its reads, this alert, who looked.
    page.goto(f"{web.url}/plates/{PLATE}")
    with page.expect_download() as info:
        page.click("#plate-evidence")
    report = text_of(Path(info.value.path()).read_bytes())
    assert f"Plate {PLATE}" in report and "The plate at a glance" in report
    # A table cell may wrap the rule id at its hyphen: compared without the line breaks.
    assert watchlist in "".join(report.split()) and "To test operator by test admin" in report
    assert "Who looked at this plate" in report and f"plate: {PLATE}" in report

    # The alerts page filtered by the watch list's rule shows its alerts only, acknowledged.
    page.goto(f"{web.url}/alerts")
    page.select_option("#rule-filter", watchlist)
    page.select_option("#severity-filter", "critical")
    page.click("#alert-filters button[type=submit]")
    page.wait_for_url(f"**rule_id={watchlist}**")
    filtered = page.locator("#alert-rows tr.alert")
    assert filtered.count() >= 1
    assert all(watchlist in text for text in filtered.all_text_contents())
    assert "stopped at gate 0, owner called" in page.locator("#alert-rows").inner_text()
    shots(page, shots_dir, "7-alerts-filtered")

    # Taken over from the list, then found among the alerts assigned to me.
    taken = filtered.first
    alert_id = taken.get_attribute("id")
    assert "test operator" in taken.locator(".assigned").inner_text()
    taken.locator("form.take button").click()
    page.wait_for_url("**/alerts#*")
    page.select_option("#assigned-filter", "me")
    page.click("#alert-filters button[type=submit]")
    page.wait_for_url("**assigned=me**")
    mine = page.locator(f"#alert-rows tr.alert[id='{alert_id}']")
    assert mine.count() == 1 and "test admin" in mine.locator(".assigned").inner_text()
    assert mine.locator("form.take").count() == 0  # already mine
    shots(page, shots_dir, "7-alerts-mine")

    # The other pages, photographed too.
    for name, path in (
        ("8-search", f"/search?q={PLATE[:4]}"), ("9-plate", f"/plates/{PLATE}"),
        ("10-cameras", "/cameras"), ("11-watchlists", "/watchlists"), ("12-audit", "/audit"),
    ):  # fmt: skip
        answer = page.goto(web.url + path)
        assert answer is not None and answer.status == 200, path
        if name == "10-cameras":  # cam-0's latest read is the live one above, crop in S3
            assert loaded(page, "#camera-cam-0 .snapshot img.thumb"), "no latest image"
        shots(page, shots_dir, name)


def signed_in(web: WebStack, role: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(
        f"{web.url}/signin", data={"key": web.keys[role]}, allow_redirects=False, timeout=30
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    return session


def test_a_viewer_gives_a_reason_for_every_console_read_and_each_is_audited(
    web: WebStack,
) -> None:
    viewer = signed_in(web, "viewer")
    reason = f"case 2020 {web.unique}"
    paths = ("/", "/reads?plate=WX7*", "/export/reads?plate=WX7*", f"/export/plates/{PLATE}",
             "/live/reads", "/alerts", "/live/alerts")  # fmt: skip
    for path in paths:
        refused = viewer.get(web.url + path, timeout=30)
        assert refused.status_code == 400 and "reason is required" in refused.text, path
    for path in paths[:4]:
        joined = "&" if "?" in path else "?"
        answer = viewer.get(f"{web.url}{path}{joined}reason={reason}", timeout=30)
        assert answer.status_code == 200, (path, answer.text[:300])
        assert answer.headers["X-ALPR-Audit-Id"].isdigit()
        assert answer.headers["Cache-Control"] == "no-store"
    home = viewer.get(f"{web.url}/?reason={reason}", timeout=30)
    assert "script-src 'self'; connect-src 'self'" in home.headers["Content-Security-Policy"]
    assert 'src="/static/console.js"' in home.text and "<script>" not in home.text
    script = viewer.get(f"{web.url}/static/console.js", timeout=30)
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert viewer.get(f"{web.url}/static/../alpr.py", timeout=30).status_code == 404
    assert viewer.get(f"{web.url}/watchlists", timeout=30).status_code == 403
    audit = web.call("GET", f"/api/audit?reason={web.unique}", "admin").json()["items"]
    answered = sorted((r["kind"], r["query"]) for r in audit if r["refused"] is None)
    assert answered == [
        ("events", "csv plate=WX7*"), ("events", "home: newest reads"),
        ("events", "home: newest reads"), ("events", "plate=WX7*"), ("plate", f"csv {PLATE}"),
    ]  # fmt: skip
    seen_before = last_seen(web, viewer)
    with requests.get(
        f"{web.url}/live/reads?reason={reason}", cookies=viewer.cookies, stream=True, timeout=30
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        assert next(stream.iter_lines()).startswith(b"retry: ")
    # A page's stream is no person's request: the session still idles out.
    assert last_seen(web, viewer) == seen_before
    viewer.get(f"{web.url}/cameras", timeout=30)
    assert last_seen(web, viewer) > seen_before


def last_seen(web: WebStack, session: requests.Session) -> datetime:
    """When the session's cookie was last used, as the server keeps it."""
    from web.auth.sessions import COOKIE, hash_session

    async def read() -> datetime:
        conn = await asyncpg.connect(web.dsn)
        try:
            sql = "SELECT last_seen_at FROM web_sessions WHERE session_hash = $1"
            cookie = session.cookies.get(COOKIE)
            assert cookie is not None, "not signed in"
            moment: datetime = await conn.fetchval(sql, hash_session(cookie))
            return moment
        finally:
            await conn.close()

    return asyncio.run(read())


def test_wildcard_reads_are_the_same_in_postgresql_and_elasticsearch(web: WebStack) -> None:
    from elasticsearch import AsyncElasticsearch

    from web.lookup.contract import EventFilter
    from web.lookup.es import EsLookup
    from web.lookup.pg import PgLookup

    since = datetime.now(UTC) - timedelta(days=3)

    async def both(pattern: str) -> tuple[list[str], list[str]]:
        where = EventFilter(plate_pattern=pattern, since=since)
        pg = PgLookup(web.dsn)
        es = EsLookup(AsyncElasticsearch(web.settings.elasticsearch.url), web.prefix)
        try:
            pages = [await b.events(where, cursor=None, limit=1000) for b in (pg, es)]
        finally:
            await pg.close()
            await es.close()
        first, second = ([s.event_id for s in p.items] for p in pages)
        return first, second

    for pattern, looks_like in (
        ("WX7*", r"WX7.*"),
        ("*70AB*", r".*70AB.*"),
        ("?X7?A?C", r".X7.A.C"),
    ):
        in_pg, in_es = asyncio.run(both(pattern))
        expected = {r["event_id"] for r in web.reads if re.fullmatch(looks_like, r["plate"])}
        assert in_pg == in_es and set(in_pg) >= expected and expected, pattern
