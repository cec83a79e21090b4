"""``silence``: an alert once a camera has been quiet long enough, the same alert after."""

from __future__ import annotations

from pydantic import TypeAdapter

from rules.kinds.silence import SilenceRule, silent_since
from rules.model import AnyRule, Rule

RULE: TypeAdapter[AnyRule] = TypeAdapter(Rule)
T0 = 1_780_000_000.0  # a fixed capture time


def test_silence_after_the_quiet_period() -> None:
    silence = RULE.validate_python({"type": "silence", "name": "q", "cameras": ["c"], "after": 60})
    assert isinstance(silence, SilenceRule)
    assert silent_since(silence, "c", T0, T0 + 59) is None
    first = silent_since(silence, "c", T0, T0 + 60)
    again = silent_since(silence, "c", T0, T0 + 600)
    assert first is not None and again is not None and first.alert_id == again.alert_id
