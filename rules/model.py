"""The rule model: any rule (:data:`Rule`, chosen by ``type``) and a rule file's content.

Each kind is a module of ``rules.kinds``, found by its registry; what all kinds share
(durations, schedules, actions, the common fields) is in ``rules.kinds.base``. The seven
first kinds' models are also named here because Python rule files import them from here
(``from rules.model import RateRule``); a newer kind is imported from its own module.
"""

from __future__ import annotations

from pydantic import Field

from rules.kinds import Rule
from rules.kinds.base import (
    WEEKDAYS,
    Action,
    Duration,
    EmailAction,
    Model,
    RuleBase,
    Schedule,
    Severity,
    SlackAction,
    SmsAction,
    WebhookAction,
    Weekday,
    parse_duration,
)
from rules.kinds.dwell import DwellRule
from rules.kinds.impossible_travel import ImpossibleTravelRule
from rules.kinds.rate import RateRule
from rules.kinds.sequence import SequenceRule
from rules.kinds.silence import SilenceRule
from rules.kinds.threshold import ThresholdField, ThresholdRule
from rules.kinds.watchlist import WatchlistRule

#: Any rule, as a type: the interface every kind implements.
AnyRule = RuleBase


class RuleFile(Model):
    """The content of a YAML rule file: ``rules: [...]``."""

    rules: list[Rule] = Field(default_factory=list, description="The rules of the file")


__all__ = [
    "WEEKDAYS", "Action", "AnyRule", "Duration", "DwellRule", "EmailAction",
    "ImpossibleTravelRule", "RateRule", "Rule", "RuleBase", "RuleFile", "Schedule",
    "SequenceRule", "Severity", "SilenceRule", "SlackAction", "SmsAction", "ThresholdField",
    "ThresholdRule", "WatchlistRule", "WebhookAction", "Weekday", "parse_duration",
]  # fmt: skip
