"""The rule model: one pydantic model per rule kind, chosen by ``type``.

Every model forbids unknown fields, so a typo in a rule file is an error naming the field
rather than a rule that silently never fires. Durations accept seconds or ``90s``, ``5m``,
``2h``, ``1d``.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """Seconds of ``value``: a number of seconds or text such as ``90s``, ``5m``, ``2h``."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like 90s, 5m, 2h, 1d")
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if match is None:
        raise ValueError(f"{value!r} is not a duration: use seconds or text like 90s, 5m, 2h, 1d")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


#: Seconds, written as a number or with a unit.
Duration = Annotated[float, BeforeValidator(parse_duration)]

Severity = Literal["info", "warning", "critical"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Schedule(_Model):
    """When a rule is active, in a time zone; ``start`` after ``end`` spans midnight."""

    days: list[Weekday] = Field(
        default_factory=lambda: list(WEEKDAYS), min_length=1, description="Active weekdays"
    )
    start: time = Field(default=time(0, 0), description="Start of the active hours (local time)")
    end: time = Field(
        default=time(0, 0), description="End of the active hours; equal to start: all day"
    )
    timezone: str = Field(default="UTC", description="IANA time zone of days and hours")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    def active_at(self, when: datetime) -> bool:
        """Whether the schedule is active at the aware datetime ``when``.

        A window that spans midnight belongs to the day it starts on: Friday 22:00-06:00
        includes Saturday 03:00.
        """
        local = when.astimezone(ZoneInfo(self.timezone))
        clock = local.time().replace(tzinfo=None)
        day = WEEKDAYS[local.weekday()]
        if self.start == self.end:
            return day in self.days
        if self.start < self.end:
            return day in self.days and self.start <= clock < self.end
        if clock >= self.start:
            return day in self.days
        previous = WEEKDAYS[(local.weekday() - 1) % 7]
        return clock < self.end and previous in self.days


class EmailAction(_Model):
    channel: Literal["email"]
    to: list[str] = Field(min_length=1, description="Recipient addresses")
    subject: str | None = Field(
        default=None, description="Subject template; default names rule and plate"
    )


class SmsAction(_Model):
    channel: Literal["sms"]
    to: list[str] = Field(min_length=1, description="Recipient numbers in E.164 (+441234...)")

    @field_validator("to")
    @classmethod
    def _e164(cls, value: list[str]) -> list[str]:
        for number in value:
            if not re.fullmatch(r"\+[1-9]\d{6,14}", number):
                raise ValueError(f"{number!r} is not an E.164 number such as +441234567890")
        return value


class SlackAction(_Model):
    channel: Literal["slack"]
    webhook_url: str = Field(pattern=r"^https?://", description="Slack incoming-webhook URL")


class WebhookAction(_Model):
    channel: Literal["webhook"]
    url: str = Field(pattern=r"^https?://", description="Receiver of the JSON alert")
    secret_env: str | None = Field(
        default=None,
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="Environment variable holding the HMAC-SHA256 key (never the key itself)",
    )


Action = Annotated[
    EmailAction | SmsAction | SlackAction | WebhookAction, Field(discriminator="channel")
]


class _Rule(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$", description="Unique rule name")
    description: str = Field(default="", max_length=1000, description="What the rule is for")
    severity: Severity = Field(default="warning", description="How urgent an alert of this rule is")
    enabled: bool = Field(default=True, description="Disabled rules are kept but never evaluated")
    cooldown: Duration = Field(
        default=0.0,
        ge=0,
        le=30 * 86400,
        description="Suppress repeats for one plate/camera this long",
    )
    cameras: list[str] = Field(default_factory=list, description="Only these cameras (all: [])")
    sites: list[str] = Field(default_factory=list, description="Only these sites (all: [])")
    schedule: Schedule | None = Field(
        default=None, description="When the rule is active (always: none)"
    )
    actions: list[Action] = Field(default_factory=list, description="Notifications on an alert")

    def applies_to(self, camera_id: str, site_id: str, when: datetime) -> bool:
        """Whether a read at this camera, site and time is in the rule's scope."""
        if self.cameras and camera_id not in self.cameras:
            return False
        if self.sites and site_id not in self.sites:
            return False
        return self.schedule is None or self.schedule.active_at(when)


class WatchlistRule(_Rule):
    """A read whose plate is on a list (exact or OCR-fuzzy) or matches a pattern."""

    type: Literal["watchlist"]
    match: Literal["exact", "fuzzy", "regex"] = Field(
        default="exact", description="How plates match"
    )
    plates: list[str] = Field(default_factory=list, description="Plates, or patterns for regex")
    plates_csv: str | None = Field(
        default=None, description="CSV file (first column: plate) relative to the rule file"
    )
    max_distance: float = Field(
        default=1.0,
        ge=0,
        le=3,
        description="Fuzzy: largest edit distance (OCR confusions cost 0.25)",
    )

    @model_validator(mode="after")
    def _has_plates(self) -> WatchlistRule:
        if not self.plates and self.plates_csv is None:
            raise ValueError("a watchlist needs plates or plates_csv")
        if self.match == "regex":
            for pattern in self.plates:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
        return self


ThresholdField = Literal["plate_confidence", "frames_agreed", "track_id"]


class ThresholdRule(_Rule):
    """A read whose numeric field compares with a value (confidence below 0.5 at a gate)."""

    type: Literal["threshold"]
    field: ThresholdField = Field(description="The read's field to compare")
    op: Literal["<", "<=", ">", ">=", "==", "!="] = Field(description="Comparison")
    value: float = Field(description="The value compared with")


class RateRule(_Rule):
    """At least ``count`` reads of one plate (or at one camera) within ``window``."""

    type: Literal["rate"]
    count: int = Field(ge=2, le=100_000, description="Reads needed within the window")
    window: Duration = Field(gt=0, le=7 * 86400, description="Sliding window")
    per: Literal["plate", "camera"] = Field(
        default="plate", description="What the reads are counted for"
    )


class SequenceRule(_Rule):
    """A plate seen at each camera of ``steps`` in order, all within ``within``."""

    type: Literal["sequence"]
    steps: list[str] = Field(min_length=2, max_length=10, description="Cameras in order")
    within: Duration = Field(gt=0, le=7 * 86400, description="From first to last step")


class ImpossibleTravelRule(_Rule):
    """Two reads of one plate too far apart for the time between them (a cloned plate)."""

    type: Literal["impossible_travel"]
    max_speed_kmh: float = Field(
        default=250.0, gt=0, le=2000, description="Fastest believable speed"
    )
    within: Duration = Field(
        default=3600.0, gt=0, le=7 * 86400, description="Only pairs of reads this close in time"
    )
    positions: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="Camera id -> (lat, lon), where reads carry none"
    )


class DwellRule(_Rule):
    """A plate seen at an entry camera and not at an exit camera within ``within``."""

    type: Literal["dwell"]
    entry_cameras: list[str] = Field(min_length=1, description="Cameras that start the stay")
    exit_cameras: list[str] = Field(min_length=1, description="Cameras that end it")
    within: Duration = Field(gt=0, le=30 * 86400, description="Longest allowed stay")


class SilenceRule(_Rule):
    """No read from a camera for ``after`` (camera down or blocked)."""

    type: Literal["silence"]
    after: Duration = Field(gt=0, le=30 * 86400, description="Silence that raises an alert")

    @model_validator(mode="after")
    def _names_cameras(self) -> SilenceRule:
        if not self.cameras:
            raise ValueError("a silence rule names the cameras it watches (cameras: [...])")
        return self


Rule = Annotated[
    WatchlistRule
    | ThresholdRule
    | RateRule
    | SequenceRule
    | ImpossibleTravelRule
    | DwellRule
    | SilenceRule,
    Field(discriminator="type"),
]

RULE_TYPES = (
    WatchlistRule,
    ThresholdRule,
    RateRule,
    SequenceRule,
    ImpossibleTravelRule,
    DwellRule,
    SilenceRule,
)
AnyRule = (
    WatchlistRule
    | ThresholdRule
    | RateRule
    | SequenceRule
    | ImpossibleTravelRule
    | DwellRule
    | SilenceRule
)


class RuleFile(_Model):
    """The content of a YAML rule file: ``rules: [...]``."""

    rules: list[Rule] = Field(default_factory=list, description="The rules of the file")
