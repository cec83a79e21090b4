"""Rule evaluation as pure functions: windows, late reads, cooldowns, chains, travel."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from rules.evaluate import PlateHistory, Sighting, horizon_s, on_read
from rules.model import AnyRule, Rule
from rules.ruleset import CompiledRule, compile_rule

RULE: TypeAdapter[AnyRule] = TypeAdapter(Rule)
T0 = 1_780_000_000.0  # a fixed capture time


def rule(**fields: Any) -> CompiledRule:
    return compile_rule(RULE.validate_python(fields))


def read(n: int, ts: float, camera: str = "cam-1", **extra: Any) -> Sighting:
    return Sighting(f"ev-{n}", camera, "site-1", T0 + ts, **extra)


def feed(rules: list[CompiledRule], reads: list[Sighting], lateness: float = 300) -> list[Any]:
    history, fired = PlateHistory(), []
    for r in reads:
        if history.add(r):
            fired += on_read(rules, history, "AB123CD", r, lateness)
            history.prune(horizon_s(rules) + lateness, 500)
    return fired


RATE = {"type": "rate", "name": "rate", "count": 3, "window": 60}


def test_rate_fires_at_the_nth_read_inside_the_window() -> None:
    (hit,) = feed([rule(**RATE)], [read(1, 0), read(2, 30), read(3, 59.9)])
    assert hit.event_ids == ("ev-1", "ev-2", "ev-3")


def test_rate_window_edge_is_exclusive_of_the_oldest_read() -> None:
    assert feed([rule(**RATE)], [read(1, 0), read(2, 30), read(3, 60)]) == []


def test_rate_out_of_order_read_completes_its_window() -> None:
    (hit,) = feed([rule(**RATE)], [read(1, 0), read(3, 50), read(2, 20)])
    assert set(hit.event_ids) == {"ev-1", "ev-2", "ev-3"}


def test_read_later_than_the_lateness_bound_counts_for_no_window() -> None:
    wide = rule(**{**RATE, "window": 2000})
    reads = [read(1, 1000), read(2, 1010), read(3, 10)]
    assert feed([wide], reads, lateness=100) == []
    (hit,) = feed([wide], reads, lateness=1000)
    assert set(hit.event_ids) == {"ev-1", "ev-2", "ev-3"}


def test_redelivered_read_is_not_counted_twice() -> None:
    assert feed([rule(**RATE)], [read(1, 0), read(2, 10), read(2, 10)]) == []


def test_cooldown_suppresses_repeats_in_event_time() -> None:
    wl = rule(type="watchlist", name="w", plates=["AB123CD"], cooldown="10m")
    hits = feed([wl], [read(1, 0), read(2, 300), read(3, 600)])
    assert [h.event_ids for h in hits] == [("ev-1",), ("ev-3",)]


def test_schedule_and_camera_filter_gate_a_watchlist() -> None:
    wl = rule(type="watchlist", name="w", plates=["AB123CD"], cameras=["gate"],
              schedule={"start": "22:00", "end": "06:00", "timezone": "UTC"})  # fmt: skip
    night = 3600.0 * 22 - T0 % 86400 + 86400  # 22:00 UTC the next day
    assert feed([wl], [read(1, night, "other")]) == []
    assert feed([wl], [read(1, night - 60, "gate")]) == []
    assert len(feed([wl], [read(1, night + 7 * 3600, "gate")])) == 1  # 05:00


def test_threshold_compares_the_field() -> None:
    low = rule(type="threshold", name="t", field="plate_confidence", op="<", value=0.5)
    assert len(feed([low], [read(1, 0, confidence=0.4)])) == 1
    assert feed([low], [read(1, 0, confidence=0.5)]) == []


def test_sequence_in_order_within_the_time() -> None:
    seq = rule(type="sequence", name="s", steps=["a", "b"], within=60)
    (hit,) = feed([seq], [read(1, 0, "a"), read(2, 30, "b")])
    assert hit.event_ids == ("ev-1", "ev-2")
    assert feed([seq], [read(1, 0, "b"), read(2, 30, "a")]) == []
    assert feed([seq], [read(1, 0, "a"), read(2, 61, "b")]) == []


def test_sequence_chain_raises_one_alert_however_often_seen() -> None:
    seq = rule(type="sequence", name="s", steps=["a", "b"], within=60)
    assert len(feed([seq], [read(1, 0, "a"), read(2, 30, "b"), read(3, 40, "c")])) == 1


def test_impossible_travel_between_distant_cameras() -> None:
    travel = rule(type="impossible_travel", name="clone", max_speed_kmh=200,
                  positions={"london": (51.5, -0.12), "paris": (48.86, 2.35)})  # fmt: skip
    (hit,) = feed([travel], [read(1, 0, "london"), read(2, 600, "paris")])
    assert hit.event_ids == ("ev-1", "ev-2")
    assert feed([travel], [read(1, 0, "london"), read(2, 3 * 3600, "paris")]) == []


def test_alert_id_is_deterministic() -> None:
    wl = [rule(type="watchlist", name="w", plates=["AB123CD"])]
    assert feed(wl, [read(1, 0)])[0].alert_id == feed(wl, [read(1, 0)])[0].alert_id
    assert feed(wl, [read(1, 0)])[0].alert_id != feed(wl, [read(2, 0)])[0].alert_id
