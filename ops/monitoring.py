"""The stack's monitoring: Prometheus, Alertmanager and the exporters Prometheus scrapes, all
from Debian packages.

Prometheus loads the project's rules (``ops/prometheus/rules``) and scrapes itself,
Alertmanager, Kafka (through the JMX exporter agent in the broker's JVM,
``ops/prometheus/kafka-jmx.yml``), the exporters of the host, PostgreSQL and Elasticsearch,
and every worker and edge worker that announced itself in its target directory
(``ops/scrape_targets.py``). Its alerts go to Alertmanager, which mails them to the stack's
SMTP sink. The configurations are written as
JSON, which is YAML too: the stack needs nothing outside the standard library.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from ops import installers, probes, scrape_targets
from ops.layout import Layout
from ops.services import Launch, Service

ROOT = Path(__file__).resolve().parents[1]
#: The alerting and recording rules shipped with the project, and their promtool tests.
RULES_DIR = ROOT / "ops" / "prometheus" / "rules"
RULE_TESTS_DIR = ROOT / "ops" / "prometheus" / "tests"
#: Short: the local stack is for development and tests, not for history.
RETENTION = "2d"
SCRAPE_INTERVAL = "10s"
#: Prometheus's memory, within the 300 MB the monitoring may add (issue 19). Measured (RSS from
#: /proc, as ``python -m bench.stack_memory`` reads it) on copies of the shared stack's TSDB,
#: about 35,000 head series, most of them from test workers come and gone: a soft limit that
#: makes the collector work harder before the heap passes it (the peak at start-up, loading the
#: TSDB, 251-262 -> 199-210 MiB), and a head block cut every 30 minutes instead of every 2
#: hours, so the series of workers that are gone leave memory sooner (steady 165-172 -> 127-151
#: MiB). ``min-block-duration`` is one of Prometheus's hidden flags (2.42, Debian 12); blocks
#: are compacted into larger ones as usual.
PROMETHEUS_MEMORY_LIMIT = "160MiB"
HEAD_BLOCK = "30m"
#: Where Alertmanager mails alerts in the local stack (the SMTP sink keeps every message).
ALERT_MAIL_TO = "operators@alpr.localhost"
ALERT_MAIL_FROM = "alertmanager@alpr.localhost"


def _go_env() -> dict[str, str]:
    """The environment of the stack's Go programs: a collector that keeps the heap nearer to
    what is live (Go's default lets it grow to twice that), for a small price in CPU."""
    return {"PATH": os.environ.get("PATH", ""), "GOGC": "50"}


def _debian_binary(path: str, package: str) -> str:
    """The program ``path`` of a Debian package, installed with ``apt-get`` when missing."""
    if not Path(path).exists():
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise installers.PrerequisiteError(
                f"{path} is missing: install it with `sudo apt-get install -y {package}`"
            )
        installers.apt_install(package)
    return path


def targets_dir(layout: Layout) -> Path:
    """Where workers announce their ``/metrics`` (one sub-directory per job)."""
    return layout.prometheus_targets


class Prometheus(Service):
    """Prometheus with the project's rules, a short retention, and file-discovered workers."""

    name = "prometheus"
    start_timeout = 60.0
    binary = "/usr/bin/prometheus"
    #: The exporters it scrapes (each job is named for one, with dashes: ``node-exporter``).
    exporters = ("node_exporter", "postgres_exporter", "elasticsearch_exporter")

    def install(self) -> None:
        _debian_binary(self.binary, "prometheus")

    @property
    def config_path(self) -> Path:
        return self.data_dir / "prometheus.yml"

    def prepare(self) -> None:
        super().prepare()
        for job in scrape_targets.JOBS:
            (targets_dir(self.layout) / job).mkdir(parents=True, exist_ok=True)
        scrape_targets.prune(targets_dir(self.layout))
        self.config_path.write_text(json.dumps(self.config(), indent=1) + "\n")

    def config(self) -> dict[str, Any]:
        """The configuration: a job of a fixed address for itself, Alertmanager, Kafka and
        each exporter; the workers' and edge workers' jobs read their target files."""
        host, ports = self.layout.host, self.layout.ports
        static = [("prometheus", [ports["prometheus"]]), ("alertmanager", [ports["alertmanager"]])]
        # Every broker of the stack (three in its three-broker mode) under the one job.
        kafka = [self.layout.kafka_port(node, "metrics") for node in self.layout.kafka_nodes]
        static += [("kafka", kafka)]
        static += [(name.replace("_", "-"), [ports[name]]) for name in self.exporters]
        jobs: list[dict[str, Any]] = [
            {"job_name": job, "static_configs": [{"targets": [f"{host}:{p}" for p in job_ports]}]}
            for job, job_ports in static
        ]
        jobs += [
            {
                "job_name": job,
                "file_sd_configs": [{"files": [str(targets_dir(self.layout) / job / "*.json")]}],
            }
            for job in scrape_targets.JOBS
        ]
        return {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
            "rule_files": [str(RULES_DIR / "*.yml")],
            "alerting": {
                "alertmanagers": [
                    {"static_configs": [{"targets": [f"{host}:{ports['alertmanager']}"]}]}
                ]
            },
            "scrape_configs": jobs,
        }

    def launch(self) -> Launch:
        argv = [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
            f"--storage.tsdb.retention.time={RETENTION}",
            f"--storage.tsdb.min-block-duration={HEAD_BLOCK}",
            f"--web.listen-address={self.endpoint()}",
        ]
        return Launch(argv, self.data_dir, {**_go_env(), "GOMEMLIMIT": PROMETHEUS_MEMORY_LIMIT})

    def probe(self) -> str:
        return probes.prometheus(self.layout.url("prometheus"))


class Alertmanager(Service):
    """Routes the alerts Prometheus fires to people: here by email to the stack's SMTP sink."""

    name = "alertmanager"
    start_timeout = 30.0
    binary = "/usr/bin/prometheus-alertmanager"

    def install(self) -> None:
        _debian_binary(self.binary, "prometheus-alertmanager")

    @property
    def config_path(self) -> Path:
        return self.data_dir / "alertmanager.yml"

    def prepare(self) -> None:
        super().prepare()
        self.config_path.write_text(json.dumps(self.config(), indent=1) + "\n")

    def config(self) -> dict[str, Any]:
        """One route, one receiver; short waits, because the stack is for trying things out."""
        email = {
            "to": ALERT_MAIL_TO,
            "from": ALERT_MAIL_FROM,
            "smarthost": f"{self.layout.host}:{self.layout.ports['smtp']}",
            "require_tls": False,
            "send_resolved": True,
        }
        return {
            "route": {
                "receiver": "operators",
                "group_by": ["alertname", "camera", "instance"],
                "group_wait": "5s",
                "group_interval": "1m",
                "repeat_interval": "4h",
            },
            "receivers": [{"name": "operators", "email_configs": [email]}],
        }

    def launch(self) -> Launch:
        argv = [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.path={self.data_dir / 'state'}",
            f"--web.listen-address={self.endpoint()}",
            "--cluster.listen-address=",  # one instance: no gossip port on every interface
        ]
        return Launch(argv, self.data_dir, _go_env())

    def probe(self) -> str:
        return probes.ready(self.layout.url("alertmanager"))


class _Exporter(Service):
    """A Prometheus exporter from Debian, answering ``/metrics`` on its stack port."""

    package = ""
    #: A metric that is 1 while the exporter reaches what it watches.
    health_metric = ""
    start_timeout = 30.0

    @property
    def binary(self) -> str:
        return f"/usr/bin/{self.package}"

    def install(self) -> None:
        _debian_binary(self.binary, self.package)

    def arguments(self) -> list[str]:
        return []

    def environment(self) -> dict[str, str]:
        return {}

    def launch(self) -> Launch:
        argv = [self.binary, f"--web.listen-address={self.endpoint()}", *self.arguments()]
        env = {**_go_env(), **self.environment()}
        return Launch(argv, self.data_dir, env)

    def probe(self) -> str:
        url = f"{self.layout.url(self.name)}/metrics"
        return probes.exporter(url, self.health_metric)


class NodeExporter(_Exporter):
    """The host: CPU, memory, disks and file systems (the disk-filling alert reads it)."""

    name = "node_exporter"
    package = "prometheus-node-exporter"
    health_metric = "node_exporter_build_info"

    def arguments(self) -> list[str]:
        # Debian's default textfile directory belongs to its own service, which may not exist.
        return ["--no-collector.textfile"]


class PostgresExporter(_Exporter):
    name = "postgres_exporter"
    package = "prometheus-postgres-exporter"
    health_metric = "pg_up"
    depends_on = ("postgres",)

    def environment(self) -> dict[str, str]:
        return {"DATA_SOURCE_NAME": f"{self.layout.postgres_dsn}?sslmode=disable"}


class ElasticsearchExporter(_Exporter):
    name = "elasticsearch_exporter"
    package = "prometheus-elasticsearch-exporter"
    health_metric = "elasticsearch_cluster_health_up"
    depends_on = ("elasticsearch",)

    def arguments(self) -> list[str]:
        return [f"--es.uri={self.layout.url('elasticsearch')}"]


MONITORING_CLASSES: tuple[type[Service], ...] = (
    NodeExporter,
    PostgresExporter,
    ElasticsearchExporter,
    Alertmanager,
    Prometheus,
)
