"""Rule evaluation as pure functions over a plate's recent sightings, in event time.

A plate's state is its sightings sorted by capture time (kept for the longest window of any
rule plus the lateness bound), the event time each rule last fired (cooldowns) and the ids
of the alerts already raised (so a chain or a window seen again raises nothing new). The
agent stores this state in a Faust table keyed by plate; here it is plain data so that every
window edge, late read and cooldown can be tested without a broker.

Windows are computed here rather than with Faust's windowed tables, whose expiry follows
wall-clock time: a read that arrives late but inside the lateness bound still lands in the
window its capture time belongs to.
"""

from __future__ import annotations

import bisect
import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rules.model import (
    AnyRule,
    DwellRule,
    ImpossibleTravelRule,
    RateRule,
    SequenceRule,
    SilenceRule,
    ThresholdRule,
    WatchlistRule,
)
from rules.ruleset import CompiledRule
from streams.alert import alert_id

#: Alert ids remembered per plate, so one window or chain raises one alert.
RECENT_ALERTS = 200

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}  # fmt: skip


@dataclass(frozen=True)
class Sighting:
    """One read of a plate, as the rules need it; ``ts`` is the capture time in seconds."""

    event_id: str
    camera_id: str
    site_id: str
    ts: float
    lat: float | None = None
    lon: float | None = None
    confidence: float = 1.0
    frames_agreed: int = 1
    track_id: int = 0


@dataclass(frozen=True)
class Trigger:
    """A rule fired for ``subject`` (a plate or a camera) on these reads."""

    rule: AnyRule
    subject: str
    event_ids: tuple[str, ...]
    ts: float
    message: str
    details: dict[str, str] = field(default_factory=dict)

    @property
    def alert_id(self) -> str:
        return alert_id(self.rule.name, self.event_ids)


@dataclass
class PlateHistory:
    """What the rules remember about one plate."""

    sightings: list[Sighting] = field(default_factory=list)
    fired: dict[str, float] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    watermark: float = float("-inf")

    def add(self, sighting: Sighting) -> bool:
        """Insert in capture order; False if this event id is already here (a redelivery)."""
        if any(s.event_id == sighting.event_id for s in self.sightings):
            return False
        keys = [s.ts for s in self.sightings]
        self.sightings.insert(bisect.bisect_right(keys, sighting.ts), sighting)
        self.watermark = max(self.watermark, sighting.ts)
        return True

    def prune(self, horizon_s: float, keep: int) -> None:
        """Forget sightings older than ``horizon_s`` before the watermark; keep at most
        ``keep``."""
        cut = self.watermark - horizon_s
        self.sightings = [s for s in self.sightings if s.ts >= cut][-keep:]
        self.alerts = self.alerts[-RECENT_ALERTS:]


def _in_scope(rule: AnyRule, s: Sighting) -> bool:
    return (not rule.cameras or s.camera_id in rule.cameras) and (
        not rule.sites or s.site_id in rule.sites
    )


def watchlist_hit(compiled: CompiledRule, plate: str, read: Sighting) -> Trigger | None:
    assert compiled.watchlist is not None
    listed = compiled.watchlist.match(plate)
    if listed is None:
        return None
    how = "" if listed == plate else f" (listed as {listed})"
    return Trigger(
        compiled.rule, plate, (read.event_id,), read.ts,
        f"{plate}{how} on watch list {compiled.rule.name}", {"listed": listed},
    )  # fmt: skip


def threshold_hit(rule: ThresholdRule, plate: str, read: Sighting) -> Trigger | None:
    value = {
        "plate_confidence": read.confidence,
        "frames_agreed": float(read.frames_agreed),
        "track_id": float(read.track_id),
    }[rule.field]
    if not _OPS[rule.op](value, rule.value):
        return None
    message = f"{plate}: {rule.field} {value:g} {rule.op} {rule.value:g}"
    return Trigger(rule, plate, (read.event_id,), read.ts, message, {"value": f"{value:g}"})


def rate_hit(
    rule: RateRule, subject: str, sightings: Sequence[Sighting], read: Sighting
) -> Trigger | None:
    """``count`` in-scope sightings within any window of length ``window`` that holds
    ``read`` (so a late read completes the window its capture time belongs to)."""
    seen = [s for s in sightings if _in_scope(rule, s)]
    times = [s.ts for s in seen]
    for end in seen:
        if not read.ts <= end.ts < read.ts + rule.window:
            continue
        first = bisect.bisect_right(times, end.ts - rule.window)
        last = bisect.bisect_right(times, end.ts)
        window = seen[first:last]
        if len(window) >= rule.count:
            ids = tuple(s.event_id for s in window)
            message = f"{subject}: {len(window)} reads within {rule.window:g}s"
            return Trigger(rule, subject, ids, end.ts, message, {"count": str(len(window))})
    return None


def sequence_hit(rule: SequenceRule, plate: str, sightings: Sequence[Sighting]) -> Trigger | None:
    """The latest chain of sightings at ``steps`` in order, first to last within ``within``."""
    for start_index in range(len(sightings) - 1, -1, -1):
        start = sightings[start_index]
        if start.camera_id != rule.steps[0]:
            continue
        chain = [start]
        for s in sightings[start_index + 1 :]:
            if s.ts - start.ts > rule.within:
                break
            if s.camera_id == rule.steps[len(chain)]:
                chain.append(s)
                if len(chain) == len(rule.steps):
                    ids = tuple(c.event_id for c in chain)
                    span = chain[-1].ts - start.ts
                    message = f"{plate}: {' -> '.join(rule.steps)} in {span:g}s"
                    return Trigger(rule, plate, ids, chain[-1].ts, message)
    return None


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def _position(rule: ImpossibleTravelRule, s: Sighting) -> tuple[float, float] | None:
    if s.camera_id in rule.positions:
        return rule.positions[s.camera_id]
    return None if s.lat is None or s.lon is None else (s.lat, s.lon)


def impossible_travel_hit(
    rule: ImpossibleTravelRule, plate: str, sightings: Sequence[Sighting], read: Sighting
) -> Trigger | None:
    here = _position(rule, read)
    if here is None:
        return None
    for other in sightings:
        there = _position(rule, other)
        gap = abs(read.ts - other.ts)
        if other.event_id == read.event_id or there is None or gap > rule.within:
            continue
        km = haversine_km(here, there)
        speed = math.inf if gap == 0 else km / (gap / 3600.0)
        if km > 0.5 and speed > rule.max_speed_kmh:
            first, second = sorted((read, other), key=lambda s: s.ts)
            message = f"{plate}: {first.camera_id} -> {second.camera_id}, {km:.1f} km in {gap:g}s"
            ids = (first.event_id, second.event_id)
            details = {"km": f"{km:.1f}", "seconds": f"{gap:g}"}
            return Trigger(rule, plate, ids, second.ts, message, details)
    return None


def overdue_dwell(
    rule: DwellRule, plate: str, sightings: Sequence[Sighting], now: float
) -> Trigger | None:
    """The latest entry without an exit after it, if ``within`` has passed by ``now``."""
    for s in reversed(sightings):
        if s.camera_id in rule.exit_cameras:
            return None
        if s.camera_id in rule.entry_cameras:
            if now - s.ts < rule.within:
                return None
            message = f"{plate}: entered at {s.camera_id}, no exit within {rule.within:g}s"
            return Trigger(rule, plate, (s.event_id,), s.ts + rule.within, message)
    return None


def silent_since(rule: SilenceRule, camera_id: str, last_read: float, now: float) -> Trigger | None:
    """A silence alert for ``camera_id`` whose last read was at ``last_read``."""
    if now - last_read < rule.after:
        return None
    marker = f"silence:{camera_id}:{last_read:.3f}"
    message = f"camera {camera_id}: no reads for {now - last_read:.0f}s"
    return Trigger(rule, camera_id, (marker,), last_read + rule.after, message)


def on_read(
    rules: Iterable[CompiledRule], history: PlateHistory, plate: str, read: Sighting,
    lateness_s: float,
) -> list[Trigger]:  # fmt: skip
    """Triggers of one read of ``plate``, already added to ``history``.

    A read later than ``lateness_s`` behind the plate's watermark is still checked by the
    rules about the read alone (watch list, threshold), not by the windowed ones.
    """
    late = read.ts < history.watermark - lateness_s
    found = []
    for compiled in rules:
        rule = compiled.rule
        if isinstance(rule, SilenceRule | DwellRule) or not _in_scope_now(rule, read):
            continue
        trigger: Trigger | None = None
        if isinstance(rule, WatchlistRule):
            trigger = watchlist_hit(compiled, plate, read)
        elif isinstance(rule, ThresholdRule):
            trigger = threshold_hit(rule, plate, read)
        elif late:
            continue
        elif isinstance(rule, RateRule) and rule.per == "plate":
            trigger = rate_hit(rule, plate, history.sightings, read)
        elif isinstance(rule, SequenceRule):
            trigger = sequence_hit(rule, plate, history.sightings)
        elif isinstance(rule, ImpossibleTravelRule):
            trigger = impossible_travel_hit(rule, plate, history.sightings, read)
        if trigger is not None and admit(trigger, history):
            found.append(trigger)
    return found


def _in_scope_now(rule: AnyRule, read: Sighting) -> bool:
    when = datetime.fromtimestamp(read.ts, UTC)
    if isinstance(rule, SequenceRule | ImpossibleTravelRule):  # spans cameras by design
        if rule.sites and read.site_id not in rule.sites:
            return False
        return rule.schedule is None or rule.schedule.active_at(when)
    return rule.applies_to(read.camera_id, read.site_id, when)


def admit(trigger: Trigger, history: PlateHistory) -> bool:
    """Whether ``trigger`` raises an alert: not one already raised, not in its cooldown.
    Records it in ``history`` if so."""
    rule = trigger.rule
    if trigger.alert_id in history.alerts:
        return False
    last = history.fired.get(rule.name)
    if last is not None and abs(trigger.ts - last) < rule.cooldown:
        return False
    history.fired[rule.name] = trigger.ts
    history.alerts.append(trigger.alert_id)
    return True


def horizon_s(rules: Iterable[CompiledRule]) -> float:
    """How far back a plate's sightings are needed by any rule."""
    spans = [0.0]
    for compiled in rules:
        rule = compiled.rule
        if isinstance(rule, RateRule):
            spans.append(rule.window)
        elif isinstance(rule, SequenceRule | ImpossibleTravelRule | DwellRule):
            spans.append(rule.within)
    return max(spans)
