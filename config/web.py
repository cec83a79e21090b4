"""The ``web`` section (the worker's web server, ``ALPR_WEB__*``): address, rate limits, the
access policy of plate data, sign-in sessions, what ``/metrics`` shows to whom and the
Prometheus the operations page reads."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from config.section import Section
from config.zones import TimeZoneName


class WebSettings(Section):
    host: str = Field(
        "127.0.0.1", min_length=1, description="Address the worker's web server binds"
    )
    port: int = Field(6066, ge=1, le=65535, description="Port of the worker's web server")
    rate_per_s: float = Field(
        10.0, gt=0, le=10_000, description="API requests per second each key may sustain"
    )
    rate_burst: int = Field(
        40, ge=1, le=100_000, description="API requests a key may make at once before limiting"
    )
    reason_required_for: tuple[Literal["viewer", "operator", "admin"], ...] = Field(
        ("viewer",),
        description="Roles that must give a reason with every read of plate data (searches, "
        "histories, events, images, alerts)",
    )
    reason_min_length: int = Field(
        8, ge=1, le=200, description="Fewest characters a reason may have (after trimming)"
    )
    reason_pattern: str | None = Field(
        None,
        max_length=500,
        description="A regular expression every reason must match (searched, not anchored), "
        r"e.g. a site's case number format '\bCASE-\d{6}\b'; none: any text",
    )
    max_page: int = Field(
        200, ge=1, le=10_000, description="Most items one API page may ask for (limit)"
    )
    image_token_seconds: int = Field(
        300,
        ge=10,
        le=3600,
        description="Lifetime of the signed image links an audited request hands out (a page's "
        "images are fetched with them: covered by the page's audit row, not rate limited)",
    )
    signing_secret: SecretStr | None = Field(
        None,
        description="Secret that signs image links (none: the site's own, drawn once by the "
        "first worker and shared through PostgreSQL)",
    )
    cookie_secure: bool = Field(
        False,
        description="Always mark the sign-in cookie Secure (it is whenever a request came over "
        "HTTPS; force it behind a proxy that ends TLS)",
    )
    session_hours: float = Field(
        12.0, gt=0, le=24 * 30, description="Hours a page sign-in session lasts at most"
    )
    session_idle_minutes: float = Field(
        30.0, gt=0, le=24 * 60, description="Minutes without a request that end a session"
    )
    signin_failures: int = Field(
        5,
        ge=1,
        le=1000,
        description="Failed sign-ins (or requests with unknown keys) one address may make in "
        "signin_window_s before it must wait",
    )
    signin_window_s: float = Field(
        300.0, ge=1, le=24 * 3600, description="Window over which failed sign-ins are counted"
    )
    time_zone: TimeZoneName = Field(
        "UTC",
        min_length=1,
        max_length=100,
        description="IANA time zone the pages show times in and read the search form's times "
        "in, e.g. Europe/London (the API and CSV exports also give UTC)",
    )
    live_poll_s: float = Field(
        2.0, ge=0.2, le=60, description="Seconds between a live page's looks for new reads/alerts"
    )
    live_stream_s: float = Field(
        300.0,
        ge=5,
        le=3600,
        description="Seconds a live stream stays open; the browser then reconnects, signed in "
        "again (a revoked key or ended session stops the updates by then)",
    )
    export_max_rows: int = Field(
        10_000, ge=1, le=1_000_000, description="Most reads one CSV export holds"
    )

    prometheus_url: str | None = Field(
        "http://127.0.0.1:19090",
        max_length=500,
        description="Prometheus the admins' /operations page draws its charts and firing "
        "alerts from (the local stack's by default; none: the page says none is set)",
    )
    prometheus_timeout_s: float = Field(
        5.0, gt=0, le=60, description="Seconds the /operations page waits for Prometheus"
    )

    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token /metrics asks for (none: no token); with metrics_networks "
        "either one lets a scraper in, and with neither set /metrics is open",
    )
    metrics_networks: tuple[str, ...] = Field(
        (),
        max_length=100,
        description="Networks (CIDR) whose callers read /metrics without a token, e.g. the "
        "Prometheus host's 10.0.5.7/32",
    )

    @field_validator("metrics_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr)
            except ValueError as exc:
                raise ValueError(f"metrics_networks: {exc}") from None
        return value

    @field_validator("prometheus_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"https?://[^/\s]+", value):
            raise ValueError(f"prometheus_url must be an http(s) URL, not {value!r}")
        return value.rstrip("/") if value is not None else None

    @field_validator("reason_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"reason_pattern is not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _secret_long_enough(self) -> WebSettings:
        if self.signing_secret is not None and len(self.signing_secret.get_secret_value()) < 32:
            raise ValueError("signing_secret must be at least 32 characters")
        if self.metrics_token is not None and len(self.metrics_token.get_secret_value()) < 16:
            raise ValueError("metrics_token must be at least 16 characters")
        return self
