"""The pages' Jinja2 environment: templates in ``web/templates``, HTML autoescaped, times
shown in the site's time zone (``web.time_zone``)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from config.settings import get_settings


@lru_cache(maxsize=1)
def site_zone() -> ZoneInfo:
    """The time zone pages show times in and read form times in."""
    return ZoneInfo(get_settings().web.time_zone)


def local(value: datetime) -> datetime:
    return value.astimezone(site_zone())


def _when(value: datetime | None) -> str:
    return local(value).strftime("%Y-%m-%d %H:%M:%S %Z") if value else "-"


def _clock(value: datetime | None) -> str:
    return local(value).strftime("%H:%M:%S %Z") if value else "-"


def _form_time(value: datetime | None) -> str:
    """A ``datetime-local`` input's value (the site's zone, to the minute)."""
    return local(value).strftime("%Y-%m-%dT%H:%M") if value else ""


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["clock"] = _clock
    env.filters["form_time"] = _form_time
    env.globals["time_zone"] = site_zone().key
    return env


def render(template: str, **context: Any) -> str:
    """``template`` rendered with ``context``."""
    return environment().get_template(template).render(**context)
