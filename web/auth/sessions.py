"""Page sign-in sessions, kept on the server: the cookie holds a random session id, never the
API key, and only the id's SHA-256 is stored (``web_sessions``).

A session ends at the first of: ``web.session_hours`` after sign-in, ``web.session_idle_minutes``
without a request, sign-out (revoked at once, on every worker), or the key's revocation. Each
session has its own CSRF token, which every form that changes something carries back.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from config.web import WebSettings
from web.auth.keys import ApiKey, Executor, key_from_row

#: Name of the pages' session cookie (HttpOnly, SameSite=Strict, Secure over TLS).
COOKIE = "alpr_session"


class SessionKey(ApiKey):
    """The key of a request signed in by a session cookie, with the session's CSRF token."""

    csrf: str
    session_hash: str


def cookie_secure(settings: WebSettings, request: Any) -> bool:
    """Whether the session cookie is marked Secure: over HTTPS always, and everywhere when
    ``web.cookie_secure`` forces it (behind a proxy that ends TLS)."""
    return settings.cookie_secure or bool(getattr(request, "secure", False))


def hash_session(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """The ``web_sessions`` table."""

    def __init__(self, db: Executor, settings: WebSettings) -> None:
        self.db = db
        self.settings = settings

    async def open(self, key: ApiKey) -> str:
        """A new session for ``key``; its id (for the cookie only: it is not stored)."""
        session_id = secrets.token_urlsafe(32)
        # Sessions a day past their end go at each sign-in, so the table stays small.
        await self.db.execute(
            "DELETE FROM web_sessions WHERE expires_at < now() - interval '1 day'"
            " OR revoked_at < now() - interval '1 day'"
        )
        await self.db.execute(
            "INSERT INTO web_sessions (session_hash, key_id, csrf_token, expires_at)"
            " VALUES ($1, $2, $3, now() + $4::interval)",
            hash_session(session_id),
            key.key_id,
            secrets.token_urlsafe(32),
            timedelta(hours=self.settings.session_hours),
        )
        return session_id

    async def find(self, session_id: str, *, touch: bool = True) -> SessionKey | None:
        """The key of a live session (its last use refreshed, unless ``touch`` is false: a
        live page's stream is no sign of a person there, so it must not keep the session from
        idling out), None if there is none: unknown, expired, idle too long, signed out. A
        revoked key's session comes back with the key's ``revoked_at`` set, for the caller to
        refuse with the reason."""
        if not 20 <= len(session_id) <= 100:
            return None
        live = (
            "UPDATE web_sessions SET last_seen_at = now()"
            if touch
            else "SELECT * FROM web_sessions"
        )
        row = await self.db.fetchrow(
            f"WITH live AS ({live}"
            " WHERE session_hash = $1 AND revoked_at IS NULL AND expires_at > now()"
            " AND last_seen_at > now() - $2::interval"
            f"{' RETURNING key_id, csrf_token, session_hash' if touch else ''})"
            " SELECT k.key_id, k.owner, k.role, k.created_at, k.revoked_at, k.last_used_at,"
            " live.csrf_token, live.session_hash FROM live JOIN api_keys k USING (key_id)",
            hash_session(session_id),
            timedelta(minutes=self.settings.session_idle_minutes),
        )
        if row is None:
            return None
        key = key_from_row(row)
        return SessionKey(
            **key.model_dump(), csrf=row["csrf_token"], session_hash=row["session_hash"]
        )

    async def revoke(self, session_hash: str) -> None:
        await self.db.execute(
            "UPDATE web_sessions SET revoked_at = coalesce(revoked_at, now())"
            " WHERE session_hash = $1",
            session_hash,
        )
