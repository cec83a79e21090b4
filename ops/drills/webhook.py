"""The slow webhook drill: alerts to a receiver that takes seconds to answer each one.

A watch-list rule matches some of the drill's events; its webhook receiver (an aiohttp
server in the drill's process, on loopback) answers each alert only after
:data:`SlowWebhook.DELAY_S`. The notifier waits on it, and nothing else may: every event still
reaches the stores, and every alert is delivered once the receiver has caught up.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from agents.alerting.rule_topic import publish_rules
from ops.drills.catalog import Drill, DrillContext
from ops.drills.workload import Workload, valid_events
from rules.model import WatchlistRule
from streams.codec import SchemaCache


class Receiver:
    """A webhook receiver on a free loopback port that answers after ``delay_s``."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.alerts: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        await asyncio.sleep(self.delay_s)
        self.alerts.append(body)
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def delivered(self) -> set[str]:
        """The event ids the alerts received were raised for."""
        return {str(i) for alert in self.alerts for i in alert.get("event_ids", [])}


class SlowWebhook(Drill):
    name = "slow-webhook"
    WATCHED = 12
    DELAY_S = 3.0
    summary = (
        f"A watch-list rule matches {WATCHED} of the events and alerts a webhook receiver "
        f"that answers each alert only after {DELAY_S:.0f} s: every event still reaches the "
        f"stores and every alert is delivered."
    )
    full_only = True

    def plates(self) -> list[str]:
        return [f"DRL{n:03d}W" for n in range(self.WATCHED)]

    def workload(self, cache: SchemaCache, subject: str, events: int) -> Workload:
        return valid_events(cache, subject, events, plates=self.plates())

    async def execute(self, ctx: DrillContext) -> float | None:
        receiver = Receiver(self.DELAY_S)
        await receiver.start()
        try:
            rule = WatchlistRule(
                type="watchlist", name="drill-watch", plates=self.plates(),
                actions=[{"channel": "webhook", "url": receiver.url}],  # type: ignore[list-item]
            )  # fmt: skip
            await publish_rules(ctx.stack.bootstrap, ctx.run.topic("rules"), [rule], prune=True)
            await super().execute(ctx)
            sent_at = time.monotonic()
            await self._wait_alerts(ctx, receiver)
            took = time.monotonic() - sent_at
            ctx.notes.append(
                f"alerts delivered: {len(receiver.alerts)} for {self.WATCHED} watched reads, "
                f"the last {took:.0f}s after the load"
            )
        finally:
            await receiver.close()
        return None

    async def _wait_alerts(self, ctx: DrillContext, receiver: Receiver) -> None:
        watched = self._watched_ids(ctx)
        deadline = time.monotonic() + 60 + 3 * self.DELAY_S * self.WATCHED
        while not watched <= receiver.delivered() and time.monotonic() < deadline:
            await asyncio.sleep(1)
        await asyncio.sleep(2 * self.DELAY_S)  # a second alert for one read would come now
        ctx.lost_elsewhere += sorted(f"alert for {i}" for i in watched - receiver.delivered())
        twice = len(receiver.alerts) - len({a.get("alert_id") for a in receiver.alerts})
        if twice:
            ctx.notes.append(f"{twice} alerts delivered more than once")

    def _watched_ids(self, ctx: DrillContext) -> set[str]:
        ids = ctx.work.valid_ids
        step = max(1, len(ids) // self.WATCHED)
        return {ids[n * step] for n in range(self.WATCHED) if n * step < len(ids)}
