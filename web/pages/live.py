"""``/live/reads`` and ``/live/alerts``: server-sent events that put new reads and alerts on
the open console pages without a reload (``web/static/console.js`` inserts them).

A stream is plate data like any page: the caller is signed in and gives the page's reason,
and every batch of rows it sends is one audited read (its images signed with that row), sent
only after the session is checked again, so a sign-out or a revoked key stops the updates.
A stream leaves the session's last use as it was, so a page left open still signs out
after ``web.session_idle_minutes`` without a person's request. The stream ends after
``web.live_stream_s``; the browser reconnects by itself (and stops once signed out). Each
stream looks at the stores every ``web.live_poll_s`` for what arrived in the last minutes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from faust.web import Request, Response

from alpr import app
from web.api.sightings import sighting_json, signed_urls
from web.auth import access
from web.auth.access import Reader
from web.auth.audit import Kind
from web.auth.guard import authenticate
from web.auth.keys import ApiKey
from web.auth.roles import at_least
from web.errors import ApiError, store_down
from web.lookup.contract import Alert, EventFilter, Sighting
from web.pages.base import PageView
from web.pages.forms import ALERT_FIELDS, FormQuery, alert_filter
from web.pages.render import render

log = logging.getLogger(__name__)

#: How far back each look reaches (reads and alerts that arrive late still show).
LOOKBACK = timedelta(minutes=5)
#: Most rows one look sends.
BATCH = 50
#: What the browser waits before reconnecting after a stream ends, in milliseconds.
RETRY_MS = 2000

Fetch = Callable[[], Awaitable[Sequence[Any]]]
Rows = Callable[[Sequence[Any], Reader, int], Awaitable[list[str]]]


def event_frame(number: int, html: str) -> bytes:
    """One server-sent event of type ``row`` carrying a row's HTML on one line."""
    data = " ".join(html.split("\n"))
    return f"id: {number}\nevent: row\ndata: {data}\n\n".encode()


class LiveView(PageView):
    """A stream of rows of ``kind`` data; subclasses say what to look for and how it shows."""

    kind: Kind

    def ident(self, item: Any) -> str:
        raise NotImplementedError

    async def _stream(
        self, request: Request, key: ApiKey, query: str, fetch: Fetch, rows: Rows
    ) -> Response | web.StreamResponse:
        admitted = await self.reader(request, key, self.kind, query)
        if isinstance(admitted, str):
            return self.failure(request, 400, admitted)
        # A reconnect (Last-Event-ID) sends the whole window again: the page drops rows it
        # shows; a first connection sends only what arrives after it opened.
        again = "Last-Event-ID" in request.headers
        seen = set() if again else {self.ident(i) for i in await fetch()}
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream", "Cache-Control": "no-store",
                "X-Accel-Buffering": "no", "X-Content-Type-Options": "nosniff",
            }
        )  # fmt: skip
        raw: Any = request
        await response.prepare(raw)
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        settings = self.state.settings.web
        deadline = asyncio.get_running_loop().time() + settings.live_stream_s
        sent = 0
        try:
            while asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(settings.live_poll_s)
                found = await fetch()
                new = [i for i in reversed(found) if self.ident(i) not in seen]
                seen = {self.ident(i) for i in found}
                if not new:
                    await response.write(b": still here\n\n")
                    continue
                await authenticate(request, self.state, "viewer", limited=False, touch=False)
                audit_id = await access.audited(self.state, admitted, self.kind, query, len(new))
                for html in await rows(new, admitted, audit_id):
                    sent += 1
                    await response.write(event_frame(sent, html))
        except (ConnectionResetError, ApiError) as exc:  # gone, signed out or revoked
            log.debug("live stream %s ended: %r", raw.path, exc)
        except Exception as exc:  # the answer has begun: end it, the browser reconnects
            if not store_down(exc):
                raise
            log.warning("live stream %s: store unavailable: %r", raw.path, exc)
        return response


@app.page("/live/reads")
class LiveReads(LiveView):
    """New reads for the home page's wall."""

    kind: Kind = "events"

    def ident(self, item: Any) -> str:
        return str(item.event_id)

    async def get(self, request: Request) -> Response | web.StreamResponse:
        key = await self.caller(request, "viewer", touch=False)
        reason = (request.query.get("reason") or "").strip()

        async def fetch() -> Sequence[Sighting]:
            since = datetime.now(UTC) - LOOKBACK
            backend = await self.state.lookup()
            return (await backend.events(EventFilter(since=since), cursor=None, limit=BATCH)).items

        async def rows(items: Sequence[Sighting], reader: Reader, audit_id: int) -> list[str]:
            urls = await signed_urls(self.state, reader, audit_id)
            return [read_row(sighting_json(s, urls) | {"at": s.captured_at}, reason) for s in items]

        return await self._stream(request, key, "live reads", fetch, rows)


@app.page("/live/alerts")
class LiveAlerts(LiveView):
    """New alerts for the alerts page (with the page's filters)."""

    kind: Kind = "alerts"

    def ident(self, item: Any) -> str:
        return str(item.alert_id)

    async def get(self, request: Request) -> Response | web.StreamResponse:
        reason = (request.query.get("reason") or "").strip()
        form = FormQuery.of(request.query, ALERT_FIELDS)
        key = await self.caller(request, "viewer", touch=False)
        where = alert_filter(form, key.owner)

        async def fetch() -> Sequence[Alert]:
            recent = datetime.now(UTC) - LOOKBACK
            window = where.model_copy(update={"since": max(where.since or recent, recent)})
            reference = await self.state.reference()
            return (await reference.alerts(window, cursor=None, limit=BATCH)).items

        async def rows(items: Sequence[Alert], reader: Reader, audit_id: int) -> list[str]:
            return [alert_row(a, reason, key) for a in items]

        return await self._stream(request, key, f"live alerts {form.described()}", fetch, rows)


def read_row(read: dict[str, Any], reason: str) -> str:
    return render("_read_row.html", r=read, reason=reason)


def alert_row(alert: Alert, reason: str, key: ApiKey) -> str:
    can_ack = at_least(key.role, "operator")
    return render("_alert_row.html", a=alert, reason=reason, key=key, can_ack=can_ack)
