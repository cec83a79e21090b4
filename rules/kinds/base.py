"""What every rule kind shares: the common fields, the schedule and actions, durations, and the
small interface through which the loader, the rule book and the engine use a kind.

A kind is a subclass of :class:`RuleBase` with a ``type`` literal, in a module of its own under
``rules/kinds/``. It overrides only what it needs: :meth:`RuleBase.on_read` for a rule judged
on reads, :meth:`RuleBase.on_timer` (with ``timer = True``) for one that the passing of time
raises, :meth:`RuleBase.keyed_by` and :meth:`RuleBase.horizon_s` for the state it needs.
Everything here is pure: state lives in the tables of the alerting stage, which hand a kind
plain :class:`~rules.state.PlateHistory` values.

Every model forbids unknown fields, so a typo in a rule file is an error naming the field
rather than a rule that silently never fires. Durations accept seconds or ``90s``, ``5m``,
``2h``, ``1d``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from config.zones import TimeZoneName
from rules.state import PlateHistory, Sighting, Trigger

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

#: Where a kind keeps what it needs between reads: nothing but cooldowns (``read``), a
#: plate's recent sightings (``plate``) or a camera's (``camera``).
Keyed = Literal["read", "plate", "camera"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Schedule(Model):
    """When a rule is active, in a time zone; ``start`` after ``end`` spans midnight."""

    days: list[Weekday] = Field(
        default_factory=lambda: list(WEEKDAYS), min_length=1, description="Active weekdays"
    )
    start: time = Field(default=time(0, 0), description="Start of the active hours (local time)")
    end: time = Field(
        default=time(0, 0), description="End of the active hours; equal to start: all day"
    )
    timezone: TimeZoneName = Field(default="UTC", description="IANA time zone of days and hours")

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


class EmailAction(Model):
    channel: Literal["email"]
    to: list[str] = Field(min_length=1, description="Recipient addresses")
    subject: str | None = Field(
        default=None, description="Subject template; default names rule and plate"
    )


class SmsAction(Model):
    channel: Literal["sms"]
    to: list[str] = Field(min_length=1, description="Recipient numbers in E.164 (+441234...)")

    @field_validator("to")
    @classmethod
    def _e164(cls, value: list[str]) -> list[str]:
        for number in value:
            if not re.fullmatch(r"\+[1-9]\d{6,14}", number):
                raise ValueError(f"{number!r} is not an E.164 number such as +441234567890")
        return value


class SlackAction(Model):
    channel: Literal["slack"]
    webhook_url: str = Field(pattern=r"^https?://", description="Slack incoming-webhook URL")


class WebhookAction(Model):
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


class FieldError(ValueError):
    """A problem with one field found after validation (a file the field names)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class RuleBase(Model):
    """The fields every rule has, and what a kind may override (defaults: judged on nothing,
    no state, no timer)."""

    if TYPE_CHECKING:  # each kind declares its own ``type: Literal[...]`` field
        type: str

    #: Whether a read later than the lateness bound is still judged: true of rules about
    #: the read alone (its plate, its fields), false of windowed ones.
    judges_late_reads: ClassVar[bool] = False
    #: Whether :meth:`on_timer` raises alerts as time passes (walking the ``keyed_by`` table).
    timer: ClassVar[bool] = False

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

    # -- state needs -------------------------------------------------------------------

    def keyed_by(self) -> Keyed:
        """Where the rule keeps what it needs between reads."""
        return "plate"

    def needs_plate_state(self) -> bool:
        """Whether a read must load and store the plate's history (sightings or cooldowns)."""
        keyed = self.keyed_by()
        return keyed == "plate" or (keyed == "read" and self.cooldown > 0)

    def horizon_s(self) -> float:
        """How far back, in event time, the rule needs a history's sightings."""
        return 0.0

    # -- evaluation --------------------------------------------------------------------

    def compile(self) -> Any:
        """An index built once per rule version and handed back to :meth:`on_read`."""
        return None

    def wants(self, plate: str, index: Any) -> bool:
        """Whether a read of ``plate`` can matter to this rule (cheap, before any state)."""
        return True

    def in_scope(self, read: Sighting) -> bool:
        """Whether ``read`` is in the rule's cameras, sites and schedule."""
        return self.applies_to(read.camera_id, read.site_id, utc(read.ts))

    def on_read(
        self, subject: str, read: Sighting, history: PlateHistory, index: Any
    ) -> Trigger | None:
        """The trigger of ``read`` of ``subject`` (already added to ``history``), if any."""
        return None

    def watches(self, key: str) -> bool:
        """Whether :meth:`on_timer` concerns the plate or camera ``key``."""
        return True

    def on_timer(self, key: str, history: PlateHistory, now: float) -> Trigger | None:
        """The trigger that wall-clock ``now`` raises for ``key``, if any."""
        return None

    # -- loading -----------------------------------------------------------------------

    def with_files(self, folder: Path) -> Self:
        """The rule with the files it names (relative to ``folder``) read and inlined, so a
        loaded rule stands alone; raises :class:`FieldError` naming the field."""
        return self

    def standalone_problem(self) -> str | None:
        """Why the rule cannot be taken as given without its rule file (API), if it cannot."""
        return None


class SpansCameras(RuleBase):
    """A rule about one plate across cameras by design (sequence, travel): scoped by its
    sites and schedule, never by its cameras. Not a kind itself (it has no ``type``)."""

    def in_scope(self, read: Sighting) -> bool:
        if self.sites and read.site_id not in self.sites:
            return False
        return self.schedule is None or self.schedule.active_at(utc(read.ts))
