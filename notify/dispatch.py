"""Delivering one alert to every action of its rule, once each.

``delivered`` is the delivery log (in production a changelog-backed table keyed by alert
id): an action already recorded for an alert is skipped, so a replayed or redelivered alert
notifies nobody twice. An action is recorded only after its delivery succeeded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from config.alerting import NotifySettings
from notify.base import Channel, DeliveryError
from notify.limits import TokenBucket, with_retries
from rules import metrics
from streams.alert import Alert
from streams.retry import Backoff

log = logging.getLogger(__name__)


def action_key(index: int, action: Mapping[str, object]) -> str:
    return f"{index}:{action.get('channel')}"


@dataclass
class Outcome:
    """What became of one alert's actions."""

    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class Dispatcher:
    """Sends alerts through the channels, with retries and a rate limit per channel."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        settings: NotifySettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.channels = channels
        self.settings = settings
        self.clock = clock
        # A first pause above the longest was capped to it: the same pauses, in a valid Backoff.
        first_s = min(settings.backoff_s, settings.backoff_max_s)
        self.backoff = Backoff(first_s, settings.backoff_max_s)
        self.buckets = {name: TokenBucket(settings.rate_per_s, settings.burst) for name in channels}
        # A slow receiver holds at most this many attempts; other channels go on.
        self.in_flight = {
            name: asyncio.Semaphore(settings.in_flight_per_channel) for name in channels
        }

    async def dispatch(self, alert: Alert, done: set[str]) -> Outcome:
        """Deliver every action of ``alert`` not in ``done``, concurrently."""
        outcome = Outcome()
        pending = []
        for index, action in enumerate(alert.actions):
            key = action_key(index, action)
            if key in done:
                outcome.skipped.append(key)
                metrics.NOTIFICATIONS.labels(str(action.get("channel")), "duplicate").inc()
            else:
                pending.append((key, action))
        results = await asyncio.gather(*(self._deliver(alert, a) for _, a in pending))
        for (key, _), error in zip(pending, results, strict=True):
            if error is None:
                outcome.sent.append(key)
            else:
                outcome.failed[key] = error
        return outcome

    async def _deliver(self, alert: Alert, action: dict[str, object]) -> str | None:
        """Deliver one action; None on success, else why it failed for good."""
        name = str(action.get("channel"))
        channel = self.channels.get(name)
        if channel is None:
            return f"no channel {name!r}"
        s = self.settings

        async def once() -> None:
            async with self.in_flight[name]:  # held for one attempt, not for the backoff
                await self.buckets[name].acquire()
                await asyncio.wait_for(channel.send(alert, dict(action)), s.timeout_s)

        async def attempt() -> None:
            try:
                await once()
            except TimeoutError as exc:
                raise DeliveryError(f"{name}: no answer within {s.timeout_s}s") from exc

        def retried(n: int, error: DeliveryError) -> None:
            metrics.NOTIFICATIONS.labels(name, "retried").inc()
            log.warning("alert %s via %s, attempt %d failed: %s", alert.alert_id, name, n, error)

        try:
            await with_retries(attempt, s.attempts, self.backoff, retried)
        except DeliveryError as error:
            metrics.NOTIFICATIONS.labels(name, "failed").inc()
            return str(error)
        metrics.NOTIFICATIONS.labels(name, "sent").inc()
        if alert.received_at is not None:
            metrics.ALERT_LATENCY.observe(max(0.0, self.clock() - alert.received_at.timestamp()))
        return None
