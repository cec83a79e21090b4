"""Rule evaluation as pure functions over a plate's (or a camera's) recent sightings, in event
time.

A plate's state is its sightings sorted by capture time (kept for the longest window of any
rule plus the lateness bound), the event time each rule last fired (cooldowns) and the ids
of the alerts already raised (so a chain or a window seen again raises nothing new); see
``rules.state``. What each kind makes of a read is the kind's own (``rules.kinds``); here is
what holds for all of them: scope, lateness, cooldowns and repeats.

Windows are computed here rather than with Faust's windowed tables, whose expiry follows
wall-clock time: a read that arrives late but inside the lateness bound still lands in the
window its capture time belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable

from rules.ruleset import CompiledRule
from rules.state import PlateHistory, Sighting, Trigger

__all__ = ["PlateHistory", "Sighting", "Trigger", "admit", "horizon_s", "on_camera_read", "on_read"]


def on_read(
    rules: Iterable[CompiledRule], history: PlateHistory, plate: str, read: Sighting,
    lateness_s: float,
) -> list[Trigger]:  # fmt: skip
    """Triggers of one read of ``plate``, already added to ``history``, by the rules kept per
    plate or per read.

    A read later than ``lateness_s`` behind the plate's watermark is still checked by the
    rules about the read alone (watch list, threshold), not by the windowed ones.
    """
    chosen = [c for c in rules if c.rule.keyed_by() != "camera"]
    return _triggers(chosen, history, plate, read, lateness_s)


def on_camera_read(
    rules: Iterable[CompiledRule], history: PlateHistory, camera_id: str, read: Sighting,
    lateness_s: float,
) -> list[Trigger]:  # fmt: skip
    """Triggers of one read at ``camera_id``, already added to the camera's ``history``, by
    the rules kept per camera."""
    chosen = [c for c in rules if c.rule.keyed_by() == "camera"]
    return _triggers(chosen, history, camera_id, read, lateness_s)


def _triggers(
    rules: list[CompiledRule], history: PlateHistory, subject: str, read: Sighting,
    lateness_s: float,
) -> list[Trigger]:  # fmt: skip
    late = read.ts < history.watermark - lateness_s
    found = []
    for compiled in rules:
        rule = compiled.rule
        if rule.timer or (late and not rule.judges_late_reads) or not rule.in_scope(read):
            continue
        trigger = rule.on_read(subject, read, history, compiled.index)
        if trigger is not None and admit(trigger, history):
            found.append(trigger)
    return found


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
    return max([0.0, *(c.rule.horizon_s() for c in rules)])
