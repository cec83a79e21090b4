"""``dwell``: overdue only without an exit, in event time against the wall clock."""

from __future__ import annotations

from pydantic import TypeAdapter

from rules.evaluate import Sighting
from rules.kinds.dwell import DwellRule, overdue_dwell
from rules.model import AnyRule, Rule

RULE: TypeAdapter[AnyRule] = TypeAdapter(Rule)
T0 = 1_780_000_000.0  # a fixed capture time


def read(n: int, ts: float, camera: str) -> Sighting:
    return Sighting(f"ev-{n}", camera, "site-1", T0 + ts)


def test_dwell_overdue_only_without_an_exit() -> None:
    dwell = RULE.validate_python({"type": "dwell", "name": "d", "entry_cameras": ["in"],
                                  "exit_cameras": ["out"], "within": 3600})  # fmt: skip
    assert isinstance(dwell, DwellRule)
    entered = [read(1, 0, "in")]
    assert overdue_dwell(dwell, "P", entered, T0 + 3599) is None
    assert overdue_dwell(dwell, "P", entered, T0 + 3600) is not None
    assert overdue_dwell(dwell, "P", [*entered, read(2, 100, "out")], T0 + 9999) is None
