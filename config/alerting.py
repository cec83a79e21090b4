"""The ``rules`` section (the alert engine, ``ALPR_RULES__*``) and the ``notify`` section
(the notifier and its channels, ``ALPR_NOTIFY__*``); every field has a description and bounds.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from config.section import Section
from config.topics import TOPIC_NAME


class RulesSettings(Section):
    """Where rules come from and how reads are evaluated against them."""

    dir: Path | None = Field(
        default=None,
        description="Directory of rule files that `alpr bootstrap` publishes (none: skip)",
    )
    topic: str = Field(
        default="alpr.rules",
        pattern=TOPIC_NAME,
        description="Compacted topic of the rule set, by rule name",
    )
    alerts_topic: str = Field(
        default="alpr.alerts", pattern=TOPIC_NAME, description="Alerts, by alert id"
    )
    lateness_s: float = Field(
        default=300.0,
        ge=0,
        le=86400,
        description="How late (event time) a read may arrive and still count",
    )
    history_max: int = Field(
        default=500, ge=10, le=100_000, description="Most recent sightings kept per plate"
    )
    timer_interval_s: float = Field(
        default=5.0, gt=0, le=3600, description="How often dwell and silence rules are checked"
    )
    state_expiry_interval_s: float = Field(
        default=300.0,
        gt=0,
        le=86400,
        description="How often plates whose rule state no rule can need any more are removed",
    )
    freeze_heap: bool = Field(
        default=True,
        description="After the rule set loads or changes, collect garbage once and exempt "
        "the surviving objects from later full collections (gc.freeze): keeps 100 ms pauses "
        "of the collector out of the alert latency",
    )
    ready_timeout_s: float = Field(
        default=30.0,
        ge=0,
        le=600,
        description="How long the alert agent waits for the rule set at start",
    )


class NotifySettings(Section):
    """How alerts are delivered."""

    attempts: int = Field(
        default=5, ge=1, le=20, description="Attempts per delivery before dead-lettering"
    )
    backoff_s: float = Field(
        default=0.5, ge=0, le=60, description="First pause between attempts; doubles"
    )
    backoff_max_s: float = Field(
        default=30.0, ge=0, le=600, description="Longest pause between attempts"
    )
    timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="Timeout of one delivery attempt"
    )
    rate_per_s: float = Field(
        default=10.0,
        gt=0,
        le=10_000,
        description="Most deliveries per second per channel (token bucket)",
    )
    burst: int = Field(
        default=20, ge=1, le=10_000, description="Deliveries a channel may send at once"
    )
    in_flight_per_channel: int = Field(
        default=16,
        ge=1,
        le=1000,
        description="Deliveries a channel may have waiting on receivers at once",
    )
    max_pending: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Alerts being delivered at once; the notifier reads on while fewer wait",
    )
    delivery_log_ttl_s: float = Field(
        default=7 * 24 * 3600,
        ge=1,
        le=365 * 24 * 3600,
        description="How long an alert's delivery log entry is kept (a replay of an alert "
        "older than this notifies again): keep it at least the alerts topic's retention",
    )
    delivery_log_prune_s: float = Field(
        default=3600, ge=1, le=24 * 3600, description="How often old delivery log entries go"
    )
    allow_networks: list[str] = Field(
        default_factory=list,
        description="Private or loopback networks (CIDR) webhook/Slack/SMS URLs may point at",
    )
    sms_base_url: str = Field(
        default="https://api.twilio.com",
        pattern=r"^https?://",
        description="Twilio-compatible API root",
    )
    sms_account_sid: str = Field(default="", description="SMS account id")
    sms_auth_token: SecretStr = Field(default=SecretStr(""), description="SMS auth token")
    sms_from: str = Field(default="", description="Sender number of SMS (E.164)")
    crop_url: str = Field(
        default="",
        description="Crop link template with {key}, e.g. https://alpr.example/crops/{key}",
    )
