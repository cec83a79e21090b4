"""Signed, short-lived image links handed out by an audited answer.

A plate page shows up to 25 crops; fetched one by one with the caller's key they would each
need a reason, an audit row and a rate-limit token (a reload gave 429s). Instead the audited
answer signs a link per image: ``?t=<audit id>.<expiry>.<mac>``, where the HMAC-SHA256 binds
the key, the audit row, the read, the image kind and the expiry. An image request with a
valid link is covered by that audit row and not rate limited; it still needs the same key
(cookie or header), so a leaked link alone opens nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from urllib.parse import quote


class ImageLinks:
    """Signs and checks image links with one secret."""

    def __init__(
        self, secret: bytes | None, seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        if seconds < 1:
            raise ValueError(f"seconds must be at least 1 (got {seconds})")
        self.secret = secret or secrets.token_bytes(32)
        self.seconds = seconds
        self.clock = clock

    def _mac(self, key_id: str, audit_id: int, event_id: str, kind: str, expiry: int) -> str:
        message = "\n".join((key_id, str(audit_id), event_id, kind, str(expiry))).encode()
        digest = hmac.new(self.secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode()

    def token(self, key_id: str, audit_id: int, event_id: str, kind: str) -> str:
        expiry = int(self.clock()) + self.seconds
        return f"{audit_id}.{expiry}.{self._mac(key_id, audit_id, event_id, kind, expiry)}"

    def url(self, key_id: str, audit_id: int, event_id: str, kind: str) -> str:
        """The image's API path with a signed link for ``key_id``."""
        token = self.token(key_id, audit_id, event_id, kind)
        return f"/api/images/{quote(event_id, safe='')}/{kind}?t={token}"

    def check(self, token: str, key_id: str, event_id: str, kind: str) -> int | None:
        """The audit id a valid, unexpired ``token`` for this image and key carries, else None."""
        parts = token.split(".")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            return None
        if len(parts[0]) > 18 or len(parts[1]) > 12:
            return None
        audit_id, expiry = int(parts[0]), int(parts[1])
        expected = self._mac(key_id, audit_id, event_id, kind, expiry)
        if not hmac.compare_digest(expected, parts[2]) or expiry < self.clock():
            return None
        return audit_id
