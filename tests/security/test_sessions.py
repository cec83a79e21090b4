"""Sessions, CSRF and the sign-in throttle without a server (the real worker is in
tests/integration/test_security_web.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from config.settings import SettingsError, load_settings
from web.auth.guard import same_origin
from web.auth.sessions import cookie_secure, hash_session
from web.auth.throttle import FailureThrottle
from web.hardening import content_security_policy


def request(**headers: str) -> Any:
    return SimpleNamespace(headers=headers, host="alpr.example:6066", secure=False)


def test_the_cookie_is_secure_over_https_or_when_forced() -> None:
    plain, forced = load_settings().web, load_settings(web={"cookie_secure": True}).web
    assert not cookie_secure(plain, request())
    assert cookie_secure(plain, SimpleNamespace(secure=True))
    assert cookie_secure(forced, request())


def test_only_the_hash_of_a_session_id_is_kept() -> None:
    assert hash_session("abc") != "abc" and len(hash_session("abc")) == 64


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"Origin": "http://alpr.example:6066"}, True),
        ({"Origin": "https://alpr.example:6066"}, True),  # TLS ended by a proxy
        ({"Referer": "http://alpr.example:6066/alerts?open=1"}, True),
        ({"Origin": "http://alpr.example:6067"}, False),  # another port of the same host
        ({"Origin": "http://evil.example"}, False),
        ({"Origin": "null"}, False),
        ({}, False),
    ],
)
def test_same_origin_compares_host_and_port(headers: dict[str, str], ok: bool) -> None:
    assert same_origin(request(**headers)) is ok


def test_failed_attempts_make_an_address_wait_for_the_window() -> None:
    now = [0.0]
    throttle = FailureThrottle(failures=2, window=60, clock=lambda: now[0])
    throttle.failed("10.0.0.1")
    assert throttle.wait("10.0.0.1") == 0.0
    now[0] = 10
    throttle.failed("10.0.0.1")
    assert throttle.wait("10.0.0.1") == pytest.approx(50) and throttle.wait("10.0.0.2") == 0
    now[0] = 60.5
    assert throttle.wait("10.0.0.1") == 0.0
    with pytest.raises(ValueError, match="failures"):
        FailureThrottle(0, 1)


def test_the_pages_policy_forbids_script_and_framing() -> None:
    policy = content_security_policy("http://127.0.0.1:19000")
    assert "script-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "img-src 'self' data: http://127.0.0.1:19000" in policy


@pytest.mark.parametrize(
    ("web", "field"),
    [
        ({"reason_min_length": 0}, "reason_min_length"),
        ({"reason_pattern": "(unclosed"}, "reason_pattern"),
        ({"signing_secret": "short"}, "signing_secret"),
        ({"metrics_networks": ["10.0.0.0/33"]}, "metrics_networks"),
        ({"session_idle_minutes": 0}, "session_idle_minutes"),
    ],
)
def test_bad_security_settings_name_the_field(web: dict[str, Any], field: str) -> None:
    with pytest.raises((SettingsError, ValueError)) as bad:
        load_settings(web=web)
    assert field in str(bad.value)
