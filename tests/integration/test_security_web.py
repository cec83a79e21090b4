"""Issue 16, findings 2, 3, 4 and 6, against a real worker: sessions that are not the key and
end at sign-out; CSRF refused from another origin, without the form token, or as a non-JSON
API call; failed sign-ins logged and slowed down per address; security headers, JSON errors
for oversized requests and ``/metrics`` behind a token."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import requests

from agents.alerting.rule_topic import read_history
from config.settings import Settings
from tests.web import stack as ws
from tests.web.stack import PLATE, WebStack
from web.auth.roles import Role

METRICS_TOKEN = "metrics-token-for-tests-0016"
#: Failed sign-ins an address may make in the window before it must wait.
FAILURES, WINDOW_S = 3, 4


@pytest.fixture(scope="module")
def web(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    tmp: Path = tmp_path_factory.mktemp("security-web")
    override = {
        "ALPR_WEB__METRICS_TOKEN": METRICS_TOKEN,
        "ALPR_WEB__SIGNIN_FAILURES": str(FAILURES),
        "ALPR_WEB__SIGNIN_WINDOW_S": str(WINDOW_S),
    }
    stack = asyncio.run(ws.start(settings, tmp, "postgres", 1000, 1000, override=override))
    yield stack
    asyncio.run(ws.stop(stack))


def sign_in(web: WebStack, role: str = "operator") -> requests.Session:
    browser = requests.Session()
    answer = browser.post(
        f"{web.url}/signin", data={"key": web.keys[role], "next": "/alerts"},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert answer.status_code == 303, answer.text
    return browser


async def _fetch(dsn: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


def fetch(web: WebStack, sql: str) -> list[asyncpg.Record]:
    return asyncio.run(_fetch(web.dsn, sql))


def test_the_cookie_is_a_session_that_sign_out_ends_never_the_key(web: WebStack) -> None:
    browser = sign_in(web, "viewer")
    cookie = str(browser.cookies["alpr_session"])
    assert web.keys["viewer"] not in cookie and "alpr_" not in cookie
    set_cookie = requests.post(
        f"{web.url}/signin", data={"key": web.keys["viewer"]}, allow_redirects=False, timeout=30
    ).headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    stored = fetch(web, "SELECT session_hash FROM web_sessions")
    assert stored and all(cookie not in row["session_hash"] for row in stored)
    # The cookie is no key: as a bearer token it opens nothing.
    bearer = requests.get(
        f"{web.url}/api/cameras", headers={"Authorization": f"Bearer {cookie}"}, timeout=30
    )
    assert bearer.status_code == 401
    page = browser.get(f"{web.url}/cameras", timeout=30)
    assert page.status_code == 200
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, "the sign-out form carries the session's CSRF token"
    signed_out = browser.post(
        f"{web.url}/signout", data={"csrf": token.group(1)}, headers={"Origin": web.url},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert signed_out.status_code == 303
    # The same cookie value, replayed after sign-out, is refused on the server.
    replay = requests.get(
        f"{web.url}/api/cameras", cookies={"alpr_session": cookie}, allow_redirects=False,
        timeout=30,
    )  # fmt: skip
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "session_ended"
    page = requests.get(
        f"{web.url}/cameras", cookies={"alpr_session": cookie}, allow_redirects=False, timeout=30
    )
    assert page.status_code == 303 and "/signin" in page.headers["Location"]


def test_the_cookie_is_secure_when_forced_or_over_https(web: WebStack) -> None:
    # The worker serves plain HTTP here: without web.cookie_secure the cookie must not claim
    # Secure (a browser would drop it); HTTPS and the setting are checked in
    # tests/security/test_sessions.py.
    answer = requests.post(
        f"{web.url}/signin", data={"key": web.keys["viewer"]}, allow_redirects=False, timeout=30
    )
    assert "Secure" not in answer.headers["Set-Cookie"]


def test_cross_site_forms_and_non_json_api_calls_with_the_cookie_are_refused(
    web: WebStack,
) -> None:
    browser = sign_in(web)
    alerts = browser.get(f"{web.url}/alerts?open=1", timeout=30)
    assert alerts.status_code == 200, alerts.text
    alert_id = re.search(r'<tr id="([^"]+)"', alerts.text)
    token = re.search(r'name="csrf" value="([^"]+)"', alerts.text)
    assert alert_id and token
    ack = f"{web.url}/alerts/{alert_id.group(1)}/ack"
    other_port = web.url.rsplit(":", 1)[0] + ":1"
    for headers, data in [
        ({"Origin": other_port}, {"csrf": token.group(1), "note": "x"}),  # another origin
        ({}, {"csrf": token.group(1), "note": "x"}),  # no Origin, no Referer
        ({"Origin": web.url}, {"note": "x"}),  # no form token
        ({"Origin": web.url}, {"csrf": "forged", "note": "x"}),  # a wrong one
    ]:
        refused = browser.post(ack, data=data, headers=headers, allow_redirects=False, timeout=30)
        assert refused.status_code == 403, (headers, data, refused.status_code)
    rule = '{"name": "csrf-probe", "type": "watchlist", "plates": ["AB12CDE"]}'
    admin = sign_in(web, "admin")
    plain = admin.post(
        f"{web.url}/api/rules", data=rule, headers={"Content-Type": "text/plain",
        "Origin": web.url}, timeout=30,
    )  # fmt: skip
    assert plain.status_code == 415 and plain.json()["error"]["code"] == "json_required"
    cross = admin.post(
        f"{web.url}/api/rules", data=rule,
        headers={"Content-Type": "application/json", "Origin": other_port}, timeout=30,
    )  # fmt: skip
    assert cross.status_code == 403 and cross.json()["error"]["code"] == "cross_origin"
    # Nor may another site sign a browser in with a key of its choosing.
    forced = requests.post(
        f"{web.url}/signin", data={"key": web.keys["viewer"]}, headers={"Origin": other_port},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert forced.status_code == 403 and "Set-Cookie" not in forced.headers
    # The operator's own form, from this site, still works.
    done = browser.post(
        ack, data={"csrf": token.group(1), "note": "from the page"},
        headers={"Origin": web.url}, allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert done.status_code == 303, done.text


def test_answers_carry_security_headers_and_no_server_version(web: WebStack) -> None:
    browser = sign_in(web, "viewer")
    page = browser.get(f"{web.url}/plates/{PLATE}?reason=case+0016+headers", timeout=30)
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "<script" not in page.text
    api = web.call("GET", f"/api/plates/{PLATE}?limit=1", "admin")
    for answer in (page, api):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["Server"] == "alpr"
    assert requests.get(f"{web.url}/health", timeout=30).headers["Server"] == "alpr"


def test_oversized_requests_get_a_json_error_that_does_not_echo_them(web: WebStack) -> None:
    long_url = f"{web.url}/api/events?camera={'A' * 100_000}"
    answer = requests.get(long_url, timeout=30)
    assert 400 <= answer.status_code < 500
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"]["code"] == "too_large" and "AAAA" not in answer.text
    assert answer.headers["Server"] == "alpr"
    body = web.call(
        "POST", "/api/rules", "admin", data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert body.status_code == 413 and body.json()["error"]["code"] == "too_large"
    assert web.worker is not None
    assert "Traceback" not in web.worker.log_tail()


def test_metrics_need_the_token_when_one_is_set(web: WebStack) -> None:
    assert requests.get(f"{web.url}/metrics", timeout=30).status_code == 403
    wrong = requests.get(f"{web.url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=30)
    assert wrong.status_code == 403
    right = requests.get(
        f"{web.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30
    )
    assert right.status_code == 200 and "alpr_web_requests_total" in right.text


def test_failed_sign_ins_are_logged_and_slowed_down_per_address(web: WebStack) -> None:
    time.sleep(WINDOW_S)  # failures of earlier tests leave the window
    bad = "alpr_000000000000_" + "x" * 43
    for _ in range(FAILURES):
        answer = requests.post(f"{web.url}/signin", data={"key": bad}, timeout=30)
        assert answer.status_code == 401
    waiting = requests.post(
        f"{web.url}/signin", data={"key": web.keys["viewer"]}, allow_redirects=False, timeout=30
    )
    assert waiting.status_code == 429 and 1 <= int(waiting.headers["Retry-After"]) <= WINDOW_S
    unknown = requests.get(
        f"{web.url}/api/cameras", headers={"Authorization": f"Bearer {bad}"}, timeout=30
    )
    assert unknown.status_code == 429
    logged = fetch(web, "SELECT kind, host(client_addr) AS addr FROM auth_failures")
    assert sum(1 for r in logged if r["kind"] == "signin") >= FAILURES
    assert all(r["addr"] == "127.0.0.1" for r in logged)
    time.sleep(int(waiting.headers["Retry-After"]) + 0.5)
    again = requests.post(
        f"{web.url}/signin", data={"key": web.keys["viewer"]}, allow_redirects=False, timeout=30
    )
    assert again.status_code == 303


def key_id(key: str) -> str:
    return key.split("_")[1]


def test_rule_changes_through_the_api_are_audited_with_the_key_and_the_diff(
    web: WebStack,
) -> None:
    name = f"audited-{web.unique}"
    rule = {"name": name, "type": "watchlist", "plates": [PLATE]}
    assert web.call("POST", "/api/rules", "admin", json=rule).status_code == 201
    changed = {**rule, "severity": "critical"}
    assert web.call("PUT", f"/api/rules/{name}", "admin", json=changed).status_code == 200
    assert web.call("DELETE", f"/api/rules/{name}", "admin").status_code == 200
    log = web.call("GET", f"/api/audit/rules?rule={name}", "admin")
    assert log.status_code == 200, log.text
    items = log.json()["items"]
    assert [c["action"] for c in items] == ["delete", "replace", "create"]
    assert {c["key_id"] for c in items} == {key_id(web.keys["admin"])}
    assert items[1]["changes"] == {"severity": ["warning", "critical"]}
    assert items[2]["changes"]["plates"] == [None, [PLATE]]
    assert web.call("GET", "/api/audit/rules", "operator").status_code == 403
    # The rule's own history (alpr rules history) names the key that published each version.
    versions = asyncio.run(
        read_history(web.settings.kafka.bootstrap_servers, web.topics["rules"], name)
    )
    assert len(versions) == 3
    assert all(v.by and key_id(web.keys["admin"]) in v.by for v in versions)


def test_the_audit_log_filters_by_who_plate_time_and_reason_and_exports_csv(
    web: WebStack,
) -> None:
    asyncio.run(ws.fresh_keys(web))
    viewer = key_id(web.keys["viewer"])
    reason = f"ticket 7777 {web.unique}"
    assert web.call("GET", f"/api/plates/{PLATE}?reason={reason}", "viewer").status_code == 200
    search = f"/api/plates/search?q={PLATE[:4]}&reason={reason}"
    assert web.call("GET", search, "viewer").status_code == 200
    assert web.call("GET", f"/api/plates/{PLATE}", "operator").status_code == 200

    def audit(query: str) -> list[dict[str, object]]:
        answer = web.call("GET", f"/api/audit?{query}", "admin")
        assert answer.status_code == 200, answer.text
        return list(answer.json()["items"])

    assert [r["kind"] for r in audit(f"who={viewer}")] == ["search", "plate"]
    assert [r["kind"] for r in audit(f"who={viewer}&plate={PLATE}")] == ["plate"]
    assert len(audit(f"reason=7777+{web.unique}")) == 2
    assert audit(f"who={viewer}&since=2999-01-01T00:00:00Z") == []
    assert audit("who=test+operator&kind=plate")[0]["key_id"] == key_id(web.keys["operator"])
    exported = web.call("GET", f"/api/audit?who={viewer}&format=csv", "admin")
    assert exported.headers["Content-Type"].startswith("text/csv")
    lines = exported.text.strip().splitlines()
    assert lines[0].startswith("id,searched_at,key_id") and len(lines) == 3
    assert all(reason in line for line in lines[1:])
    admin = sign_in(web, "admin")
    page = admin.get(f"{web.url}/audit?who={viewer}", timeout=30)
    assert page.status_code == 200 and reason in page.text and 'id="export"' in page.text
    assert sign_in(web, "viewer").get(f"{web.url}/audit", timeout=30).status_code == 403


#: (method, path, the least role that may, the status it gets). Reads carry a reason.
MATRIX: list[tuple[str, str, Role, int]] = [
    ("GET", f"/api/plates/search?q={PLATE}&reason=case+0016+matrix", "viewer", 200),
    ("GET", f"/api/plates/{PLATE}?reason=case+0016+matrix", "viewer", 200),
    ("GET", "/api/events?limit=2&reason=case+0016+matrix", "viewer", 200),
    ("GET", "/api/alerts?reason=case+0016+matrix", "viewer", 200),
    ("GET", "/api/cameras", "viewer", 200),
    ("GET", "/api/stats", "viewer", 200),
    ("POST", "/api/alerts/no-such-alert/ack", "operator", 404),
    ("GET", "/api/rules", "admin", 200),
    ("GET", "/api/audit", "admin", 200),
    ("GET", "/api/audit/rules", "admin", 200),
]


def test_every_role_reaches_what_it_may_and_nothing_more(web: WebStack) -> None:
    from web.auth.roles import ROLES, at_least

    asyncio.run(ws.fresh_keys(web))
    wrong = []
    for method, path, least, allowed in MATRIX:
        for role in (None, *ROLES):
            answer = web.call(method, path, role)
            if role is None:
                expected = 401
            else:
                expected = allowed if at_least(role, least) else 403
            if answer.status_code != expected:
                wrong.append((method, path, role, answer.status_code, expected))
    assert not wrong, wrong
    event = next(r["event_id"] for r in web.reads if str(r["plate_crop_key"]).startswith("test-"))
    image = f"/api/images/{event}/plate?reason=case+0016+matrix"
    assert [web.call("GET", image, r).status_code for r in (None, *ROLES)] == [401, 302, 302, 302]
    pages: list[tuple[str, Role]] = [
        ("/search", "viewer"),
        ("/cameras", "viewer"),
        ("/audit", "admin"),
    ]
    for page, least in pages:
        assert requests.get(web.url + page, allow_redirects=False, timeout=30).status_code == 303
        for role in ROLES:
            status = sign_in(web, role).get(web.url + page, timeout=30).status_code
            assert status == (200 if at_least(role, least) else 403), (page, role)
