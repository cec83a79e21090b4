"""``roaming``: different places within a window, in any order, one alert per episode."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from rules.evaluate import PlateHistory, Sighting, Trigger, on_read
from rules.kinds import BY_TYPE
from rules.kinds.roaming import RoamingRule, roaming_hit
from rules.loader import load_file
from rules.model import AnyRule, Rule
from rules.ruleset import compile_rule

RULE: TypeAdapter[AnyRule] = TypeAdapter(Rule)
T0 = 1_780_000_000.0  # a fixed capture time


def roaming(**fields: object) -> RoamingRule:
    rule = RULE.validate_python({"type": "roaming", "name": "r", "count": 3, "window": "10m",
                                 **fields})  # fmt: skip
    assert isinstance(rule, RoamingRule)
    return rule


def read(n: int, ts: float, camera: str, site: str = "site-1") -> Sighting:
    return Sighting(f"ev-{n}", camera, site, T0 + ts)


def hit(rule: RoamingRule, reads: list[Sighting], last: Sighting | None = None) -> Trigger | None:
    ordered = sorted(reads, key=lambda s: s.ts)
    return roaming_hit(rule, "P", ordered, last or reads[-1])


def test_the_registry_finds_the_kind() -> None:
    assert BY_TYPE["roaming"] is RoamingRule


def test_fires_on_count_different_cameras_within_the_window() -> None:
    reads = [read(1, 0, "a"), read(2, 200, "b"), read(3, 599, "c")]
    trigger = hit(roaming(), reads)
    assert trigger is not None
    assert trigger.event_ids == ("ev-1", "ev-2", "ev-3")
    assert trigger.ts == T0 + 599
    assert trigger.details == {"cameras": "a,b,c", "seconds": "599"}
    assert trigger.message == "P: 3 cameras in 599s (a, b, c)"


def test_repeats_at_one_camera_are_not_roaming() -> None:
    reads = [read(n, n * 10, "a" if n % 2 else "b") for n in range(1, 20)]
    assert hit(roaming(), reads) is None


def test_places_spread_wider_than_the_window_do_not_fire() -> None:
    assert hit(roaming(), [read(1, 0, "a"), read(2, 300, "b"), read(3, 600, "c")]) is None


def test_any_order_counts() -> None:
    reads = [read(1, 0, "c"), read(2, 10, "a"), read(3, 20, "c"), read(4, 30, "b")]
    trigger = hit(roaming(), reads)
    assert trigger is not None and trigger.event_ids == ("ev-1", "ev-2", "ev-4")


def test_a_late_read_completes_the_window_its_capture_time_belongs_to() -> None:
    early, later = read(1, 0, "a"), read(3, 400, "c")
    late = read(2, 100, "b")  # arrives after ev-3, captured between them
    trigger = hit(roaming(), [early, late, later], last=late)
    assert trigger is not None and trigger.event_ids == ("ev-1", "ev-2", "ev-3")


def test_distinct_sites() -> None:
    rule = roaming(distinct="site", count=2)
    same_site = [read(1, 0, "a", "north"), read(2, 10, "b", "north")]
    assert hit(rule, same_site) is None
    trigger = hit(rule, [*same_site, read(3, 20, "c", "south")])
    assert trigger is not None and trigger.details["sites"] == "north,south"


def test_only_reads_in_scope_count() -> None:
    rule = roaming(cameras=["a", "b", "c"])
    reads = [read(1, 0, "a"), read(2, 10, "elsewhere"), read(3, 20, "b"), read(4, 30, "x")]
    assert hit(rule, reads, last=reads[2]) is None
    trigger = hit(rule, [*reads, read(5, 40, "c")])
    assert trigger is not None and trigger.event_ids == ("ev-1", "ev-3", "ev-5")


def test_one_alert_per_episode_through_the_evaluator() -> None:
    rules = [compile_rule(roaming())]
    history = PlateHistory()
    fired = []
    for s in [read(1, 0, "a"), read(2, 60, "b"), read(3, 120, "c"), read(4, 180, "d")]:
        history.add(s)
        fired += on_read(rules, history, "P", s, lateness_s=300)
    assert [t.event_ids for t in fired] == [("ev-1", "ev-2", "ev-3")]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"count": 1}, "greater than or equal to 2"),
        ({"window": 0}, "greater than 0"),
        ({"distinct": "plate"}, "'camera' or 'site'"),
        ({"cameras": ["a", "b"]}, "count 3 can never be reached: only 2 cameras"),
        ({"distinct": "site", "sites": ["s"], "count": 2}, "only 1 sites"),
    ],
)
def test_bad_rules_say_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        roaming(**fields)


def test_loaded_from_a_rule_file(tmp_path: Path) -> None:
    path = tmp_path / "roaming.yaml"
    path.write_text(
        "rules:\n"
        "  - name: casing-the-streets\n"
        "    type: roaming\n"
        "    count: 4\n"
        "    window: 15m\n"
        "    cooldown: 1h\n",
        encoding="utf-8",
    )
    result = load_file(path)
    assert result.errors == []
    (rule,) = result.rules
    assert isinstance(rule, RoamingRule) and rule.window == 900.0
