"""The console's search forms read as filters: times in the site's time zone, plate patterns
with wildcards, and the values given (to fill the form again and to build page links)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from web.api import params
from web.errors import bad_request
from web.lookup.contract import AlertFilter, EventFilter
from web.pages.render import site_zone

#: The fields of the reads search form, in the order the audit log shows them.
READ_FIELDS = ("plate", "since", "until", "camera", "vehicle_type", "vehicle_colour")
#: The fields of the alerts page's filter form.
ALERT_FIELDS = ("rule_id", "severity", "since", "until", "open", "assigned")
#: The alerts page's assignment filter: its values and their words.
ASSIGNED_CHOICES = {"me": "assigned to me", "none": "unassigned"}
_WILDCARDS = frozenset("*?")


def local_time(query: Mapping[str, str], name: str) -> datetime | None:
    """A form time: ``2026-01-31T08:00`` in the site's zone, or ISO 8601 with an offset."""
    raw = params.text(query, name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(
            f"{name} must be a date and time such as 2026-01-31T08:00 (got {raw[:40]!r})",
            f"bad_{name}",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=site_zone())
    return moment.astimezone(UTC)


def plate_pattern(raw: str | None) -> str | None:
    """The plate field as a pattern: upper case, spaces and dashes dropped, ``*``/``?`` kept.
    A plate without wildcards is normalised as plates are (and refused as they are)."""
    if raw is None:
        return None
    text = raw.upper().replace(" ", "").replace("-", "")
    if not _WILDCARDS & set(text):
        return params.plate(raw)
    return text


@dataclass(frozen=True)
class FormQuery:
    """What a search form asked for: the values given, by field."""

    given: dict[str, str]

    @classmethod
    def of(cls, query: Mapping[str, str], fields: tuple[str, ...]) -> FormQuery:
        return cls({n: query[n].strip() for n in fields if (query.get(n) or "").strip()})

    def described(self) -> str:
        """The audit log's words for the query."""
        return params.described(self.given, tuple(self.given)) or "(all)"

    def link(self, path: str, **extra: str | None) -> str:
        """``path`` with the form's values and ``extra`` (None drops a value) as a query."""
        values = {**self.given, **extra}
        return f"{path}?{urlencode({k: v for k, v in values.items() if v})}"


def read_filter(form: FormQuery) -> EventFilter:
    """The reads filter of the search form; 400 naming the first bad field."""
    given = form.given
    return EventFilter(
        plate_pattern=plate_pattern(given.get("plate")),
        since=local_time(given, "since"),
        until=local_time(given, "until"),
        camera_id=params.text(given, "camera"),
        vehicle_type=params.text(given, "vehicle_type"),
        vehicle_colour=params.lower_text(given, "vehicle_colour"),
    )


def alert_filter(form: FormQuery, me: str) -> AlertFilter:
    """The alerts filter of the alerts page's form; ``me`` is the signed-in key's owner (for
    "assigned to me")."""
    given = form.given
    assigned = given.get("assigned")
    if assigned is not None and assigned not in ASSIGNED_CHOICES:
        raise bad_request(
            f"assigned must be one of {', '.join(ASSIGNED_CHOICES)} (got {assigned[:20]!r})",
            "bad_assigned",
        )
    return AlertFilter(
        rule_id=params.text(given, "rule_id"),
        severity=params.text(given, "severity"),
        since=local_time(given, "since"),
        until=local_time(given, "until"),
        acknowledged=False if given.get("open") == "1" else None,
        assigned_to=me if assigned == "me" else None,
        assigned=False if assigned == "none" else None,
    )
