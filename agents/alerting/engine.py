"""The alert engine: reads in, rule state updated, alerts out.

Kept apart from the agents (like ``agents.router.routing`` for the router) so it reads as the
pipeline it is; ``agents.alerting.alerts`` wires it to the topics and tables. State goes through
``MutableMapping`` tables keyed by plate or camera; timers (dwell, silence) run outside a
stream event, so they write through :class:`TimerWriter`, which names the partition.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, MutableMapping
from datetime import UTC, datetime
from typing import Any, Protocol

from config.alerting import RulesSettings
from rules import metrics
from rules.evaluate import (
    PlateHistory,
    Sighting,
    Trigger,
    admit,
    horizon_s,
    on_camera_read,
    on_read,
)
from rules.model import AnyRule
from rules.ruleset import RuleBook
from streams.alert import Alert
from streams.records import PlateRead
from tables.local import walk
from tables.rule_state import CameraTick, PlateRuleState

log = logging.getLogger(__name__)

SendAlert = Callable[[Alert], Awaitable[Any]]
SendTick = Callable[[CameraTick], Awaitable[Any]]


class TimerDeleter(Protocol):
    """Removes ``key`` (whose entry lives on ``partition``) from ``table`` outside a stream
    event."""

    def __call__(
        self, table: MutableMapping[str, PlateRuleState], key: str, partition: int
    ) -> None: ...


class TimerWriter(Protocol):
    """Writes ``value`` under ``key`` in ``table`` outside a stream event."""

    def __call__(
        self, table: MutableMapping[str, PlateRuleState], key: str, value: PlateRuleState
    ) -> None: ...


def sighting_of(read: PlateRead) -> Sighting:
    """The read as the rules see it, named by its vehicle pass: a final read that supersedes
    an edge preview takes the preview's id, so the rules count the pass once (a stateful
    rule sees a redelivery) and a stateless rule raises the preview's alert id again, which
    the notifier has already delivered."""
    location = read.location or read.camera.location
    return Sighting(
        event_id=read.supersedes or read.event_id,
        camera_id=read.camera_id,
        site_id=read.site_id,
        ts=read.captured_at.timestamp(),
        lat=location.lat if location else None,
        lon=location.lon if location else None,
        confidence=read.plate_confidence,
        frames_agreed=read.frames_agreed,
        track_id=read.track_id,
    )


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def alert_of(trigger: Trigger, camera_id: str, site_id: str, **extra: Any) -> Alert:
    rule = trigger.rule
    return Alert(
        alert_id=trigger.alert_id,
        rule=rule.name,
        rule_type=rule.type,
        severity=rule.severity,
        subject=trigger.subject,
        event_ids=list(trigger.event_ids),
        camera_id=camera_id,
        site_id=site_id,
        triggered_at=_utc(trigger.ts),
        raised_at=_utc(time.time()),
        message=trigger.message,
        details=trigger.details,
        actions=[action.model_dump(mode="json") for action in rule.actions],
        **extra,
    )


def _entries(table: MutableMapping[str, PlateRuleState]) -> AsyncIterator[tuple[str, Any]]:
    """The local entries of ``table`` in chunks (a Faust table's local data: no event
    needed), each read as it is when its turn comes."""
    return walk(getattr(table, "data", table))


class AlertEngine:
    """Evaluates the rules of ``book`` on reads and on timers; one per agent actor."""

    def __init__(
        self,
        book: RuleBook,
        settings: RulesSettings,
        by_plate: MutableMapping[str, PlateRuleState],
        by_camera: MutableMapping[str, PlateRuleState],
        send_alert: SendAlert,
        send_tick: SendTick,
    ) -> None:
        self.book = book
        self.settings = settings
        self.by_plate = by_plate
        self.by_camera = by_camera
        self.send_alert = send_alert
        self.send_tick = send_tick

    def needs_read(self, plate: str) -> bool:
        """Whether a read of ``plate`` can raise an alert or change rule state.

        Each kind answers (``wants``): watch lists from the plate alone (a hash lookup, or
        the deletion index for fuzzy lists); the other kinds need every read (its fields,
        its time, the camera tick).
        """
        return any(c.rule.wants(plate, c.index) for c in self.book.enabled())

    def _camera_rules_exist(self) -> bool:
        return any(c.rule.keyed_by() == "camera" for c in self.book.enabled())

    async def on_read(self, read: PlateRead, partition: int) -> list[Alert]:
        """Evaluate one read of the plate-keyed stream; send and return its alerts."""
        rules = self.book.enabled()
        sighting = sighting_of(read)
        stateful = any(c.rule.needs_plate_state() for c in rules)
        stored = self.by_plate.get(read.plate) if stateful else None
        history = stored.history() if stored is not None else PlateHistory()
        if sighting.ts < history.watermark - self.settings.lateness_s:
            metrics.LATE_READS.inc()
        if not history.add(sighting):
            return []  # a redelivered read: its alerts were raised the first time
        triggers = on_read(rules, history, read.plate, sighting, self.settings.lateness_s)
        if stateful:  # stateless rules alone need no table write per read
            history.prune(horizon_s(rules) + self.settings.lateness_s, self.settings.history_max)
            self.by_plate[read.plate] = PlateRuleState.of(history, partition)
        metrics.RULES_EVALUATED.inc(len(rules))
        if self._camera_rules_exist():
            tick = CameraTick(read.camera_id, read.site_id, read.event_id, sighting.ts)
            await self.send_tick(tick)
        alerts = [
            alert_of(
                t,
                read.camera_id,
                read.site_id,
                plate=read.plate,
                crop_key=read.plate_crop_key,
                received_at=read.received_at,
            )
            for t in triggers
        ]
        await self._send(alerts)
        return alerts

    async def on_camera_tick(self, tick: CameraTick, partition: int) -> list[Alert]:
        """Evaluate the rules kept per camera (per-camera rates) on one read of the
        camera-keyed stream."""
        rules = [c for c in self.book.enabled() if c.rule.keyed_by() == "camera"]
        stored = self.by_camera.get(tick.camera_id)
        history = stored.history() if stored is not None else PlateHistory()
        sighting = Sighting(tick.event_id, tick.camera_id, tick.site_id, tick.ts)
        if not history.add(sighting):
            return []
        lateness_s = self.settings.lateness_s
        triggers = on_camera_read(rules, history, tick.camera_id, sighting, lateness_s)
        # a camera's rate windows need its recent reads; silence needs only the latest
        history.prune(horizon_s(rules) + self.settings.lateness_s, self.settings.history_max)
        self.by_camera[tick.camera_id] = PlateRuleState.of(history, partition)
        alerts = [alert_of(t, tick.camera_id, tick.site_id) for t in triggers]
        await self._send(alerts)
        return alerts

    async def on_timer(self, now: float, write: TimerWriter) -> list[Alert]:
        """Alerts that the passing of time raises (dwell, silence), at wall-clock ``now``.

        Only the partitions this worker holds are in the tables' local data, so each worker
        checks its own plates and cameras.
        """
        timers = [c.rule for c in self.book.enabled() if c.rule.timer]
        by_plate = [r for r in timers if r.keyed_by() == "plate"]
        by_camera = [r for r in timers if r.keyed_by() == "camera"]
        # the plate table holds every plate a stateful rule saw: walk it only when needed
        alerts = await self._walk_timers(self.by_plate, by_plate, now, write, per_plate=True)
        alerts += await self._walk_timers(self.by_camera, by_camera, now, write, per_plate=False)
        await self._send(alerts)
        return alerts

    async def _walk_timers(
        self,
        table: MutableMapping[str, PlateRuleState],
        rules: list[AnyRule],
        now: float,
        write: TimerWriter,
        per_plate: bool,
    ) -> list[Alert]:
        alerts: list[Alert] = []
        if not rules:
            return alerts
        async for key, stored in _entries(table):
            watching = [r for r in rules if r.watches(key)]
            if watching:
                extra = {"plate": key} if per_plate else {}
                alerts += self._timer_alerts(table, key, stored, watching, now, write, **extra)
        return alerts

    def keep_s(self) -> float:
        """How long after its last write a plate's state can still matter: the longest
        window or span of the rules, the lateness bound and the longest cooldown."""
        rules = self.book.enabled()
        cooldown = max((c.rule.cooldown for c in rules), default=0.0)
        return horizon_s(rules) + self.settings.lateness_s + cooldown

    async def expire_plates(self, now: float, owned: Collection[int], delete: TimerDeleter) -> int:
        """Remove the plates of the ``owned`` partitions whose state was last written more
        than :meth:`keep_s` before ``now`` (wall clock; entries written before the time was
        kept go by their newest read's time): a plate seen once would otherwise keep its
        entry for ever. Another partition's owner removes its own (a standby copy follows
        its changelog). Cameras keep theirs: they are few, and silence needs every camera's
        last read. Returns how many went."""
        keep_s = self.keep_s()
        removed = 0
        async for plate, stored in _entries(self.by_plate):
            written = stored.written_at or stored.watermark
            if stored.partition in owned and now - written > keep_s:
                delete(self.by_plate, plate, stored.partition)
                removed += 1
        return removed

    def _timer_alerts(
        self,
        table: MutableMapping[str, PlateRuleState],
        key: str,
        stored: PlateRuleState,
        rules: list[AnyRule],
        now: float,
        write: TimerWriter,
        **extra: Any,
    ) -> list[Alert]:
        history = stored.history()
        found = []
        for rule in rules:
            trigger = rule.on_timer(key, history, now)
            if trigger is None or not admit(trigger, history):
                continue
            last = history.sightings[-1] if history.sightings else None
            camera = last.camera_id if last else key
            site = last.site_id if last else ""
            found.append(alert_of(trigger, camera, site, **extra))
        if found:
            write(table, key, PlateRuleState.of(history, stored.partition))
        return found

    async def _send(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            await self.send_alert(alert)
            metrics.ALERTS.labels(alert.rule, alert.severity).inc()
