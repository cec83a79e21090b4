"""Signed image links: bound to the key, the audit row, the image and a short lifetime."""

from __future__ import annotations

import pytest

from web.auth.image_links import ImageLinks


def test_a_link_opens_only_its_image_for_its_key_until_it_expires() -> None:
    now = [1000.0]
    links = ImageLinks(b"s" * 32, seconds=60, clock=lambda: now[0])
    url = links.url("key1", 42, "e/1", "plate")
    assert url.startswith("/api/images/e%2F1/plate?t=42.1060.")
    token = url.split("?t=")[1]
    assert links.check(token, "key1", "e/1", "plate") == 42
    assert links.check(token, "key2", "e/1", "plate") is None
    assert links.check(token, "key1", "e/2", "plate") is None
    assert links.check(token, "key1", "e/1", "vehicle") is None
    assert links.check(token.replace("42.", "41.", 1), "key1", "e/1", "plate") is None
    now[0] += 61
    assert links.check(token, "key1", "e/1", "plate") is None


@pytest.mark.parametrize("token", ["", "1.2", "a.b.c", "1.2.3.4", "9" * 30 + ".1.x"])
def test_malformed_links_are_refused(token: str) -> None:
    assert ImageLinks(None, 60).check(token, "k", "e", "plate") is None


def test_another_worker_with_its_own_secret_refuses_the_link() -> None:
    token = ImageLinks(None, 60).token("k", 1, "e", "plate")
    assert ImageLinks(None, 60).check(token, "k", "e", "plate") is None
    assert (
        ImageLinks(b"x" * 32, 60).check(
            ImageLinks(b"x" * 32, 60).token("k", 1, "e", "plate"), "k", "e", "plate"
        )
        == 1
    )
