"""Query parameters of the API, checked with messages that say what is allowed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from streams.plates import PlateTextError, normalise_plate
from web.errors import bad_request

#: Longest free-text parameter (camera id, vehicle type, reason, cursor) taken at all.
MAX_TEXT = 500
#: Longest plate query: longer text cannot be a plate (normalised plates have up to 12).
MAX_PLATE_TEXT = 40


def limit(query: Mapping[str, str], default: int, most: int) -> int:
    raw = query.get("limit")
    if raw is None or raw == "":
        return min(default, most)
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= most:
        raise bad_request(
            f"limit must be a whole number from 1 to {most} (got {raw[:20]!r})", "bad_limit"
        )
    return int(raw)


def text(query: Mapping[str, str], name: str, *, required: bool = False) -> str | None:
    raw = query.get(name)
    if raw is None or not raw.strip():
        if required:
            raise bad_request(f"the query parameter {name!r} is required", f"missing_{name}")
        return None
    if len(raw) > MAX_TEXT or not raw.isprintable():
        raise bad_request(
            f"{name} must be printable text of at most {MAX_TEXT} characters", f"bad_{name}"
        )
    return raw.strip()


def lower_text(query: Mapping[str, str], name: str) -> str | None:
    """:func:`text` in lower case (names the edge gives in lower case: colours)."""
    value = text(query, name)
    return None if value is None else value.lower()


def plate(raw: str, name: str = "plate") -> str:
    """``raw`` normalised as a plate; 400 with the reason when it cannot be one."""
    if len(raw) > MAX_PLATE_TEXT:
        raise bad_request(
            f"{name} is {len(raw)} characters long; a plate has at most 12 letters and digits",
            "bad_plate",
        )
    try:
        return normalise_plate(raw)
    except PlateTextError as exc:
        raise bad_request(f"{name}: {exc}", "bad_plate") from None


def timestamp(query: Mapping[str, str], name: str) -> datetime | None:
    raw = text(query, name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise bad_request(
            f"{name} must be an ISO 8601 time such as 2026-01-31T08:00:00Z (got {raw[:40]!r})",
            f"bad_{name}",
        ) from None
    try:
        # Stores compare in UTC; an offset that pushes the time outside years 1..9999 is bad.
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        raise bad_request(f"{name} is out of range (got {raw[:40]!r})", f"bad_{name}") from None


def fraction(query: Mapping[str, str], name: str) -> float | None:
    raw = text(query, name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise bad_request(f"{name} must be a number from 0 to 1 (got {raw[:20]!r})", f"bad_{name}")
    return value


def described(query: Mapping[str, str], names: tuple[str, ...]) -> str:
    """The given parameters among ``names`` as ``name=value`` words (what the audit log shows
    of a filtered read)."""
    return " ".join(f"{n}={query[n].strip()[:100]}" for n in names if (query.get(n) or "").strip())
