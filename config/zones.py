"""IANA time zone names in settings and rules: one check, one message."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator


def known_zone(value: str) -> str:
    """``value`` if it names a time zone this machine knows, else ``ValueError``."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
    return value


#: A ``str`` field that must name a known IANA time zone.
TimeZoneName = Annotated[str, AfterValidator(known_zone)]
