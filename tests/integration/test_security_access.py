"""Issue 16, findings 1 and 7, against a real worker: every read of plate data goes through
one access policy (role, a reason of the configured length, one audit row per request), and
a plate page's images, fetched with the signed links its audited answer handed out, never
hit the key's rate limit. The audit-completeness check scripts a session of mixed requests
(API and pages, every role, with and without reasons) and finds every answer that carried
plate data in the audit log, once.
"""

from __future__ import annotations

import asyncio
import html
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import asyncpg
import pytest
import requests

from config.settings import Settings
from tests.web import stack as ws
from tests.web.stack import PLATE, WebStack
from web.auth.keys import KeyStore
from web.auth.roles import ROLES, Role

#: Requests a key may make at once: fewer than a plate page's 12 images plus the page.
BURST = 10
REASON = "case 2026-0016"
#: The scripted session's length, and keys enough that few of its requests are rate limited.
SESSION_REQUESTS, KEYS_PER_ROLE = 1000, 30
AUDIT = "X-ALPR-Audit-Id"


@pytest.fixture(scope="module")
def web(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    tmp: Path = tmp_path_factory.mktemp("security-access")
    stack = asyncio.run(ws.start(settings, tmp, "postgres", rate=0.1, burst=BURST))
    yield stack
    asyncio.run(ws.stop(stack))


@pytest.fixture
def api(web: WebStack) -> WebStack:
    asyncio.run(ws.fresh_keys(web))
    return web


def key_id(key: str) -> str:
    return key.split("_")[1]


def code_of(response: requests.Response) -> str:
    return str(response.json()["error"]["code"])


async def _rows(dsn: str, after: int) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(
            await conn.fetch(
                "SELECT id, key_id, kind, query, reason, results, refused FROM search_audit"
                " WHERE id > $1 ORDER BY id",
                after,
            )
        )
    finally:
        await conn.close()


async def _secrets(dsn: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch("SELECT name FROM web_secrets WHERE length(value) >= 32"))
    finally:
        await conn.close()


def audit_rows(stack: WebStack, after: int = 0) -> list[asyncpg.Record]:
    return asyncio.run(_rows(stack.dsn, after))


def last_audit_id(stack: WebStack) -> int:
    rows = audit_rows(stack)
    return int(rows[-1]["id"]) if rows else 0


def crop_event(stack: WebStack) -> str:
    return next(
        r["event_id"] for r in stack.reads if str(r.get("plate_crop_key")).startswith("test-")
    )


def signed_in(stack: WebStack, key: str) -> requests.Session:
    """A browser-like session signed in to the pages with ``key``."""
    session = requests.Session()
    answer = session.post(
        stack.url + "/signin", data={"key": key, "next": "/search"}, allow_redirects=False,
        headers={"Origin": stack.url}, timeout=30,
    )  # fmt: skip
    assert answer.status_code == 303, answer.text
    return session


def image_sources(page: str) -> list[str]:
    return [html.unescape(src) for src in re.findall(r'<img src="([^"]+)"', page)]


def test_events_images_and_alerts_need_a_reason_and_each_read_writes_one_audit_row(
    api: WebStack,
) -> None:
    start = last_audit_id(api)
    paths = {
        "events": "/api/events?limit=5",
        "image": f"/api/images/{crop_event(api)}/plate",
        "alerts": "/api/alerts?acknowledged=false",
    }
    for kind, path in paths.items():
        sep = "&" if "?" in path else "?"
        assert code_of(api.call("GET", path, "viewer")) == "reason_required", kind
        short = api.call("GET", f"{path}{sep}reason=case+1", "viewer")
        assert short.status_code == 400 and code_of(short) == "reason_too_short", kind
        good = api.call("GET", f"{path}{sep}reason={quote(REASON)}", "viewer")
        assert good.status_code in (200, 302), (kind, good.text)
        assert good.headers["Cache-Control"] == "no-store"
        assert good.headers["X-Content-Type-Options"] == "nosniff"
        assert int(good.headers[AUDIT]) > start
        assert api.call("GET", path, "operator").status_code in (200, 302)  # no reason needed
    rows = audit_rows(api, start)
    viewer = key_id(api.keys["viewer"])
    assert [(r["kind"], r["refused"]) for r in rows if r["key_id"] == viewer] == [
        (kind, refused)
        for kind in paths
        for refused in ("reason_required", "reason_too_short", None)
    ]
    answered = [r for r in rows if r["key_id"] == viewer and r["refused"] is None]
    assert all(r["reason"] == REASON and r["results"] >= 1 for r in answered)
    assert len([r for r in rows if r["key_id"] == key_id(api.keys["operator"])]) == 3


def test_a_plate_page_loads_all_its_images_without_hitting_the_rate_limit(api: WebStack) -> None:
    browser = signed_in(api, api.keys["viewer"])
    page = browser.get(f"{api.url}/plates/{PLATE}?reason={quote(REASON)}", timeout=30)
    assert page.status_code == 200, page.text
    images = image_sources(page.text)
    assert len(images) == 12
    answers = [browser.get(api.url + src, allow_redirects=False, timeout=30) for src in images]
    assert [a.status_code for a in answers] == [302] * 12, [
        a.text for a in answers if a.status_code != 302
    ]
    assert {a.headers[AUDIT] for a in answers} == {page.headers[AUDIT]}  # the page's one row
    # Signed with the site's secret, shared through PostgreSQL by every worker.
    assert len(asyncio.run(_secrets(api.dsn))) == 1
    # A link opens nothing alone, nor for another key, nor once altered.
    assert requests.get(api.url + images[0], allow_redirects=False, timeout=30).status_code == 401
    other = signed_in(api, api.keys["operator"])
    assert other.get(api.url + images[0], allow_redirects=False, timeout=30).status_code == 403
    altered = images[0][:-2] + ("AA" if not images[0].endswith("AA") else "BB")
    assert browser.get(api.url + altered, allow_redirects=False, timeout=30).status_code == 403


@dataclass
class Answer:
    """One scripted request: whose key, and whether plate data came back (by its content)."""

    key: str
    response: requests.Response
    plate_data: bool
    linked: bool = False

    @property
    def refused(self) -> bool:
        """Refused by the access policy (pages answer those 400 with the reason form)."""
        if self.response.status_code != 400:
            return False
        if not self.response.headers["Content-Type"].startswith("application/json"):
            return True
        return code_of(self.response) in {"reason_required", "reason_too_short", "bad_plate"}


async def _many_keys(dsn: str, per_role: int) -> dict[Role, list[str]]:
    conn = await asyncpg.connect(dsn)
    try:
        store = KeyStore(conn)
        return {
            role: [(await store.create(role, f"script {role} {n}"))[1] for n in range(per_role)]
            for role in ROLES
        }
    finally:
        await conn.close()


class Script:
    """A seeded mix of API and page requests by keys of every role."""

    def __init__(self, stack: WebStack, seed: int) -> None:
        self.stack = stack
        self.rng = random.Random(seed)
        self.keys = asyncio.run(_many_keys(stack.dsn, KEYS_PER_ROLE))
        self.turn = dict.fromkeys(ROLES, 0)
        self.sessions: dict[str, requests.Session] = {}
        self.links: list[tuple[str, str]] = []  # (key, signed image path) handed out so far
        self.answers: list[Answer] = []
        self.event = crop_event(stack)

    def key(self) -> str:
        role = self.rng.choice(ROLES)
        self.turn[role] += 1
        return self.keys[role][self.turn[role] % len(self.keys[role])]

    def reason(self) -> str:
        return self.rng.choice(["", "&reason=short", f"&reason={quote(REASON)}"])

    def api(self, key: str, path: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {key}"}
        url = self.stack.url + path
        return requests.get(url, headers=headers, allow_redirects=False, timeout=30)

    def page(self, key: str, path: str) -> requests.Response:
        if key not in self.sessions:
            self.sessions[key] = signed_in(self.stack, key)
        return self.sessions[key].get(self.stack.url + path, allow_redirects=False, timeout=30)

    def step(self) -> None:
        key, reason = self.key(), self.reason()
        action = self.rng.randrange(12)
        if action == 0:
            r = self.api(key, f"/api/plates/search?q={PLATE[:5]}{reason}")
            self.record(key, r, r.status_code == 200 and bool(r.json()["items"]))
        elif action == 1:
            r = self.api(key, f"/api/plates/{PLATE}?limit=3{reason}")
            if r.status_code == 200:
                self.links += [(key, s["plate_crop_url"]) for s in r.json()["items"]]
            self.record(key, r, r.status_code == 200)
        elif action == 2:
            r = self.api(key, f"/api/events?limit=4{reason}")
            self.record(key, r, r.status_code == 200 and bool(r.json()["items"]))
        elif action == 3:
            r = self.api(key, f"/api/images/{self.event}/plate?x=1{reason}")
            self.record(key, r, r.status_code == 302)
        elif action == 4:
            r = self.api(key, f"/api/alerts?limit=5{reason}")
            self.record(key, r, r.status_code == 200 and bool(r.json()["items"]))
        elif action == 5:
            r = self.api(key, self.rng.choice(["/api/cameras", "/api/stats?hours=48"]))
            self.record(key, r, False)
        elif action == 6 and self.links:
            owner, path = self.rng.choice(self.links)
            r = self.api(owner, path)
            self.record(owner, r, r.status_code == 302, linked=True)
        elif action == 7:
            r = self.page(key, f"/search?q={PLATE}{reason}")
            self.record(key, r, r.status_code == 200 and PLATE in r.text)
            self.links += [(key, src) for src in image_sources(r.text)]
        elif action == 8:
            r = self.page(key, f"/plates/{PLATE}?x=1{reason}")
            self.record(key, r, r.status_code == 200 and "timeline" in r.text)
            self.links += [(key, src) for src in image_sources(r.text)]
        elif action == 9:
            r = self.page(key, f"/alerts?x=1{reason}")
            self.record(key, r, r.status_code == 200 and PLATE in r.text)
        elif action == 10:
            r = self.api(key, f"/api/plates/{self.rng.choice(['A', '$$', PLATE])}?limit=1{reason}")
            self.record(key, r, r.status_code == 200)
        else:
            r = self.page(key, "/cameras")
            self.record(key, r, False)

    def record(
        self, key: str, response: requests.Response, plate_data: bool, linked: bool = False
    ) -> None:
        self.answers.append(Answer(key, response, plate_data, linked))


def test_every_answer_with_plate_data_in_a_scripted_session_has_its_audit_row(
    web: WebStack,
) -> None:
    start = last_audit_id(web)
    script = Script(web, seed=16)
    while len(script.answers) < SESSION_REQUESTS:
        script.step()
    rows = {int(r["id"]): r for r in audit_rows(web, start)}
    served = [a for a in script.answers if a.plate_data]
    assert len(served) >= SESSION_REQUESTS // 4, "the script should mostly read plate data"
    missing = [
        (a.response.request.path_url, a.response.status_code)
        for a in served
        if AUDIT not in a.response.headers or int(a.response.headers[AUDIT]) not in rows
    ]
    assert not missing, missing
    for answer in served:
        row = rows[int(answer.response.headers[AUDIT])]
        assert row["key_id"] == key_id(answer.key) and row["refused"] is None
        assert answer.response.headers["Cache-Control"] == "no-store"
    # Exactly one row per request that was answered (linked images reuse their page's row).
    own = [
        int(a.response.headers[AUDIT])
        for a in script.answers
        if AUDIT in a.response.headers and not a.linked
    ]
    answered = sorted(i for i, r in rows.items() if r["refused"] is None)
    assert sorted(own) == answered
    # And one row per request the policy refused.
    refusals = [a for a in script.answers if a.refused]
    assert len(refusals) == sum(1 for r in rows.values() if r["refused"] is not None)
    assert not [a for a in script.answers if a.response.status_code >= 500]
    linked = sum(a.linked and a.plate_data for a in script.answers)
    print(f"{len(script.answers)} requests: {len(served)} with plate data ({linked} by signed")
    print(f"link), {len(refusals)} refused by the policy, {len(answered)} audit rows answered")


def test_the_rules_api_refuses_webhooks_to_internal_addresses(api: WebStack) -> None:
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[::1]:6066/", "http://0x7f.1/"):
        rule = {
            "name": f"leak-{api.unique}", "type": "watchlist", "plates": [PLATE],
            "actions": [{"channel": "webhook", "url": url}],
        }  # fmt: skip
        refused = api.call("POST", "/api/rules", "admin", json=rule)
        assert refused.status_code == 422 and code_of(refused) == "unsafe_url", refused.text
        assert "internal address" in refused.json()["error"]["message"]
    assert api.call("GET", f"/api/rules/leak-{api.unique}", "admin").status_code == 404
