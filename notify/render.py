"""Jinja2 templates of notifications (HTML and text), with autoescaping for HTML."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from streams.alert import Alert

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def crop_link(alert: Alert, crop_url: str) -> str | None:
    """The link to the alert's crop image, if there is a crop and a URL template."""
    if not alert.crop_key or not crop_url:
        return None
    return crop_url.format(key=alert.crop_key)


def render(template: str, alert: Alert, crop_url: str = "") -> str:
    return (
        environment()
        .get_template(template)
        .render(alert=alert, crop_link=crop_link(alert, crop_url))
    )


def summary(alert: Alert) -> str:
    """One line for SMS and chat: severity, rule, plate or camera, where and when."""
    return render("summary.txt.j2", alert).strip()
