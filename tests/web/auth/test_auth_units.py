"""Keys, roles and the rate limiter without a database."""

from __future__ import annotations

import pytest

from web.auth.keys import hash_key, new_key, well_formed
from web.auth.ratelimit import RateLimiter
from web.auth.roles import at_least, parse_role


def test_a_new_key_is_well_formed_names_its_id_and_hashes_stably() -> None:
    key_id, key = new_key()
    assert well_formed(key)
    assert key.startswith(f"alpr_{key_id}_")
    assert hash_key(key) == hash_key(key) and key not in hash_key(key)
    assert new_key()[1] != key


@pytest.mark.parametrize(
    "text", ["", "alpr_", "Bearer x", "alpr_zzzzzzzzzzzz_" + "a" * 43, "x' OR '1'='1"]
)
def test_malformed_keys_are_refused_before_any_query(text: str) -> None:
    assert not well_formed(text)


def test_roles_are_ordered_and_checked() -> None:
    assert at_least("admin", "operator") and at_least("operator", "operator")
    assert not at_least("viewer", "operator")
    with pytest.raises(ValueError, match="viewer, operator, admin"):
        parse_role("investigator")


def test_the_bucket_allows_a_burst_then_says_how_long_to_wait() -> None:
    now = [100.0]
    limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k") == pytest.approx(0.5)
    assert limiter.take("other") == 0.0
    now[0] += 0.5
    assert limiter.take("k") == 0.0


def test_the_limiter_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(rate=0, burst=1)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(rate=1, burst=0)
