"""The platform's settings: one validated tree read from ``ALPR_*`` variables and a YAML file.

Precedence, highest first: keyword arguments, ``ALPR_*`` environment variables (nested fields
use ``__``, e.g. ``ALPR_KAFKA__BROKER``), the YAML file named by ``ALPR_CONFIG`` (or passed as
``yaml_file``), then the defaults below. The defaults point at the local stack (``ops/stack``).
The stages' sections (``topics``, ``router``, ``rules``, ``notify``, ``projections``) are
defined in their own modules of this package and set like the others (``ALPR_RULES__TOPIC``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from config.alerting import NotifySettings, RulesSettings
from config.projections import ProjectionSettings
from config.router import RouterSettings
from config.section import Section
from config.topics import TopicSettings
from config.tracing import TracingSettings
from config.web import WebSettings

DEFAULT_HOME = Path(os.environ.get("ALPR_HOME", Path.home() / ".cache" / "alpr"))


class KafkaSettings(Section):
    broker: str = Field(
        "kafka://127.0.0.1:19092",
        description="Kafka bootstrap servers, Faust URL form: kafka://host:port[;kafka://host2:port]",
        pattern=r"^kafka://[^\s;]+(;kafka://[^\s;]+)*$",
    )
    partitions: int = Field(8, ge=1, le=1024, description="Partitions of each project topic")
    replication_factor: int = Field(1, ge=1, le=7, description="Replicas of each project topic")
    # Faust's own default is 60 s: a worker restarted after a crash waited out its dead
    # predecessor's session, about a minute with nothing consumed (issue 17, finding 3).
    session_timeout_s: float = Field(
        10.0,
        ge=6,
        le=300,
        description="Seconds a consumer of the worker (Faust's and each batch consumer) may "
        "go without a heartbeat before the group gives its partitions to others: how long a "
        "crashed worker's partitions wait. Within the broker's group.min/max.session.timeout.ms "
        "(6 s to 30 min by default); a worker whose event loop stalls longer loses its partitions",
    )
    heartbeat_interval_s: float = Field(
        3.0,
        ge=0.5,
        le=100,
        description="Seconds between a consumer's heartbeats; at most a third of session_timeout_s",
    )

    worker_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9._-]{1,100}$",
        description="A name for this worker that stays the same across its restarts and "
        "differs from every other worker's (a host name, or host and slot): its consumers "
        "join their groups as static members (Kafka's group.instance.id, the name plus the "
        "consumer's), so a worker restarted after a crash is given its partitions back at once "
        "instead of after session_timeout_s. Empty (the default): dynamic members. Two running "
        "workers with one name fence each other out",
    )
    producer_acks: Literal["all", "1", "0"] = Field(
        "all",
        description="Acknowledgements every producer of the core waits for (Faust's, the "
        "batch services', the rule and dead-letter tools): all (every in-sync replica: with "
        "the broker's min.insync.replicas=2 of a three-broker cluster, an acknowledged event "
        "survives the loss of a broker), 1 (the leader only) or 0 (none). Kafka is the log of "
        "record: lower it only for benchmarks",
    )
    producer_idempotence: bool = Field(
        True,
        description="Idempotent producers: the broker drops a batch that a producer sends "
        "again after a lost answer or a leader change, so retries add no copies. Needs "
        "producer_acks=all",
    )

    @field_validator("producer_acks", mode="before")
    @classmethod
    def _acks_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _heartbeat_within_session(self) -> KafkaSettings:
        if self.heartbeat_interval_s * 3 > self.session_timeout_s:
            raise ValueError(
                f"heartbeat_interval_s ({self.heartbeat_interval_s}) must be at most a third of "
                f"session_timeout_s ({self.session_timeout_s})"
            )
        if self.producer_idempotence and self.producer_acks != "all":
            raise ValueError(
                f"producer_idempotence needs producer_acks=all (not {self.producer_acks}): "
                "set producer_idempotence to false to lower the acknowledgements"
            )
        return self

    def group_instance_id(self, consumer: str) -> str | None:
        """The static membership name of this worker's ``consumer``, if it has a worker id."""
        return f"{self.worker_id}-{consumer}" if self.worker_id else None

    def producer_options(self) -> dict[str, Any]:
        """``acks`` and ``enable_idempotence`` for an ``AIOKafkaProducer``."""
        acks: str | int = "all" if self.producer_acks == "all" else int(self.producer_acks)
        return {"acks": acks, "enable_idempotence": self.producer_idempotence}

    @property
    def bootstrap_servers(self) -> str:
        """The broker list in the ``host:port,host:port`` form plain Kafka clients take."""
        return ",".join(part.removeprefix("kafka://") for part in self.broker.split(";"))


class SchemaRegistrySettings(Section):
    url: str = Field(
        "http://127.0.0.1:18081/apis/ccompat/v7",
        description="Base URL of the Confluent-compatible schema registry API",
        pattern=r"^https?://\S+$",
    )


class PostgresSettings(Section):
    dsn: str = Field(
        "postgresql://alpr:alpr@127.0.0.1:15432/alpr",
        description="libpq URL of the PostgreSQL database",
        pattern=r"^postgres(ql)?://\S+$",
    )
    pool_min: int = Field(1, ge=0, le=100, description="Connections kept open")
    pool_max: int = Field(10, ge=1, le=500, description="Most connections opened")

    @model_validator(mode="after")
    def _pool_bounds(self) -> PostgresSettings:
        if self.pool_min > self.pool_max:
            raise ValueError(
                f"pool_min ({self.pool_min}) must not exceed pool_max ({self.pool_max})"
            )
        return self


class ElasticsearchSettings(Section):
    url: str = Field(
        "http://127.0.0.1:19200",
        description="Elasticsearch 8.x base URL; empty to search PostgreSQL only",
        pattern=r"^(https?://\S+)?$",
    )
    index_prefix: str = Field(
        "alpr", pattern=r"^[a-z][a-z0-9_-]{0,40}$", description="Prefix of indices and aliases"
    )


class S3Settings(Section):
    endpoint: str = Field(
        "http://127.0.0.1:19000",
        description="S3-compatible endpoint URL",
        pattern=r"^https?://\S+$",
    )
    bucket: str = Field(
        "alpr-crops",
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="Bucket for plate crops and vehicle images",
    )
    region: str = Field("us-east-1", min_length=1, description="Region used for signing")
    access_key: str = Field("alpr", min_length=1, description="Access key id")
    secret_key: SecretStr = Field(SecretStr("alpr-secret"), description="Secret access key")
    presign_seconds: int = Field(
        900, ge=1, le=7 * 24 * 3600, description="Lifetime of presigned image URLs"
    )

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments of ``aiobotocore``'s ``create_client("s3", ...)``."""
        return {
            "endpoint_url": self.endpoint,
            "region_name": self.region,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key.get_secret_value(),
        }


class SmtpSettings(Section):
    host: str = Field("127.0.0.1", min_length=1, description="SMTP server host")
    port: int = Field(11025, ge=1, le=65535, description="SMTP server port")
    sender: str = Field(
        "alpr@localhost", pattern=r"^[^@\s]+@[^@\s]+$", description="From address of emails"
    )
    username: str | None = Field(None, description="SMTP login, if the server needs one")
    password: SecretStr | None = Field(None, description="SMTP password")
    security: Literal["none", "starttls", "tls"] = Field(
        "none", description="Transport security: none, starttls or tls"
    )


class LookupSettings(Section):
    search_backend: Literal["auto", "elasticsearch", "postgres"] = Field(
        "auto",
        description="Store of plate searches and histories: auto (Elasticsearch when its url is "
        "set and it answers, else PostgreSQL), elasticsearch, or postgres",
    )


class RetentionSettings(Section):
    reads_days: int = Field(
        30, ge=1, le=3650, description="Days to keep plate reads that hit no alert"
    )
    alert_days: int = Field(365, ge=1, le=3650, description="Days to keep reads linked to an alert")

    @model_validator(mode="after")
    def _alerts_kept_longer(self) -> RetentionSettings:
        if self.alert_days < self.reads_days:
            raise ValueError(
                f"alert_days ({self.alert_days}) must be at least reads_days ({self.reads_days})"
            )
        return self


class FaustSettings(Section):
    app_id: str = Field(
        "alpr",
        pattern=r"^[A-Za-z0-9._-]{1,100}$",
        description="Faust app id: the consumer group and the prefix of changelog topics. "
        "Give tests and side deployments their own so they never join the production group",
    )
    store: str = Field(
        "memory://",
        description="Table store: memory:// or rocksdb:// (needs the rocksdict package)",
        pattern=r"^(memory|rocksdb|aerospike)://\S*$",
    )
    data_dir: Path = Field(
        DEFAULT_HOME / "worker-data", description="Directory for table state and worker files"
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Worker log level"
    )
    fetch_max_wait_ms: int = Field(
        1500,
        ge=1,
        le=5000,
        description="Longest wait of the worker's Kafka consumer for new records in one "
        "fetch (Faust's own choice: 1,500 ms). The consumer has one fetch in flight and "
        "leaves out of it the partitions whose records it has just returned, so their next "
        "records can wait this long. Shorter waits cut that tail but cost CPU in fetches: "
        "on 2 cores at 1,000 reads/s with a rate rule, 20 and 100 ms made alerts slower",
    )
    fetch_hold_ms: int = Field(
        1000,
        ge=0,
        le=10_000,
        description="Longest time the worker's Kafka consumer holds its next fetch while "
        "records it fetched are still waiting for Faust to take them (aiokafka's "
        "prefetch_backoff, 100 ms by default). A fetch sent meanwhile leaves those "
        "partitions out and can wait the whole fetch_max_wait_ms for the others, their next "
        "records with it: on a busy machine Faust often takes longer than 100 ms, and the "
        "alert agent and notifier fell seconds behind so",
    )


class Settings(BaseSettings):
    """Every setting of the platform, validated at start."""

    model_config = SettingsConfigDict(
        env_prefix="ALPR_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)  # type: ignore[arg-type]
    schema_registry: SchemaRegistrySettings = Field(
        default_factory=SchemaRegistrySettings  # type: ignore[arg-type]
    )
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)  # type: ignore[arg-type]
    elasticsearch: ElasticsearchSettings = Field(
        default_factory=ElasticsearchSettings  # type: ignore[arg-type]
    )
    s3: S3Settings = Field(default_factory=S3Settings)  # type: ignore[arg-type]
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)  # type: ignore[arg-type]
    web: WebSettings = Field(default_factory=WebSettings)  # type: ignore[arg-type]
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings  # type: ignore[arg-type]
    )
    faust: FaustSettings = Field(default_factory=FaustSettings)  # type: ignore[arg-type]
    lookup: LookupSettings = Field(default_factory=LookupSettings)  # type: ignore[arg-type]
    topics: TopicSettings = Field(default_factory=TopicSettings)  # type: ignore[arg-type]
    router: RouterSettings = Field(default_factory=RouterSettings)  # type: ignore[arg-type]
    rules: RulesSettings = Field(default_factory=RulesSettings)  # type: ignore[arg-type]
    notify: NotifySettings = Field(default_factory=NotifySettings)  # type: ignore[arg-type]
    projections: ProjectionSettings = Field(
        default_factory=ProjectionSettings  # type: ignore[arg-type]
    )
    tracing: TracingSettings = Field(default_factory=TracingSettings)  # type: ignore[arg-type]
    log_format: Literal["text", "json"] = Field(
        "text",
        description="How every process logs (ALPR_LOG_FORMAT): Faust's text lines, or JSON "
        "lines with time, level, logger, message and, where known, trace id, camera, event id",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))


class _YamlSource(PydanticBaseSettingsSource):
    """Reads the YAML file named by ``ALPR_CONFIG``; no variable means no file."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("ALPR_CONFIG")
        return load_yaml(Path(path)) if path else {}


class SettingsError(ValueError):
    """Settings that cannot be used, with one line per bad field."""


def load_yaml(path: Path) -> dict[str, Any]:
    """Parse a settings file; an unreadable or non-mapping file is a ``SettingsError``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"settings file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(
            f"settings file {path} must hold a mapping of sections, got {type(data).__name__}"
        )
    return data


def describe_errors(exc: ValidationError) -> str:
    """One line per bad field: the dotted field name, what is wrong, and the value given."""
    lines = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "(settings)"
        env = "ALPR_" + "__".join(str(part) for part in err["loc"]).upper()
        given = err.get("input")
        shown = "" if isinstance(given, dict) else f" (got {given!r})"
        lines.append(f"  {field} [{env}]: {err['msg']}{shown}")
    return "invalid settings:\n" + "\n".join(lines)


def single_underscore_variables(environ: Mapping[str, str]) -> list[str]:
    """One line per variable named as before the sections joined the tree
    (``ALPR_TOPICS_RAW``): read no more, it would be ignored without a word."""
    lines = []
    for name in sorted(environ):
        for section in Settings.model_fields:
            head = f"ALPR_{section.upper()}_"
            if name.startswith(head) and not name.startswith(f"{head}_"):
                field = name.removeprefix(head)
                lines.append(
                    f"  {section}.{field.lower()} [{name}]: not read; set {head}_{field} instead"
                )
    return lines


def load_settings(**overrides: Any) -> Settings:
    """Build and validate the settings, raising ``SettingsError`` that names each bad field
    and its variable."""
    stale = single_underscore_variables(os.environ)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        report = describe_errors(exc)
        raise SettingsError("\n".join([report, *stale])) from None
    if stale:
        raise SettingsError("\n".join(["invalid settings:", *stale]))
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
