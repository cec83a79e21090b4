"""Private instances of the stack's services, for drills and tests that stop or kill one.

Other tests (and other people's runs) use the shared stack at the same time, so an outage
must never be caused on the shared services. A :class:`PrivateStack` starts a second instance
of some services with the project's own ``ops/stack``, on free ports, with its data in a
directory of its own, reusing the shared stack's installed software (``opt``) so nothing is
downloaded. ``stop``/``start``/``kill`` act on the private instances only, and ``close``
removes them. ``alpr drill`` and the outage tests both use it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from ops.layout import Layout
from ops.procs import ProcessTable
from ops.worker import free_port

ROOT = Path(__file__).resolve().parents[1]


def kafka_port_names(brokers: int) -> tuple[str, ...]:
    """The stack's port names (``ops/layout.py``) of a Kafka of ``brokers`` brokers."""
    keys = ("kafka", "kafka_2", "kafka_3")[:brokers]
    return tuple(f"{key}{role}" for key in keys for role in ("", "_controller", "_metrics"))


class PrivateStack:
    """``SERVICES`` of a private stack, each of ``PORTS`` free; ``ENV``: more variables.

    Subclasses name them as class attributes; the constructor's arguments, where given,
    take their place.
    """

    SERVICES: tuple[str, ...] = ()
    #: The stack's port names (``ops/layout.py``) given free ports.
    PORTS: tuple[str, ...] = ()
    ENV: dict[str, str] = {}

    def __init__(
        self,
        services: tuple[str, ...] | None = None,
        ports: tuple[str, ...] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.services = services if services is not None else self.SERVICES
        if not self.services:
            raise ValueError("services=(): a private stack needs at least one service")
        shared = Layout()
        # /tmp, not a home folder: the service user must reach the data.
        self.root = Path(tempfile.mkdtemp(prefix=f"alpr-private-{self.services[0]}-", dir="/tmp"))
        self.root.chmod(0o755)
        (self.root / "opt").symlink_to(shared.opt)
        free = {name: free_port() for name in (ports if ports is not None else self.PORTS)}
        self.env = {
            **os.environ,
            **(env if env is not None else self.ENV),
            "ALPR_STACK_DIR": str(self.root),
            **{f"ALPR_STACK_{name.upper()}_PORT": str(port) for name, port in free.items()},
        }
        self.layout = Layout(
            root=self.root,
            ports={**shared.ports, **free},
            kafka_brokers=int(self.env.get("ALPR_STACK_KAFKA_BROKERS", "1")),
        )

    def stack(self, *args: str) -> str:
        """``ops/stack ARGS`` on the private stack; its output."""
        done = subprocess.run(
            [str(ROOT / "ops" / "stack"), *args], env=self.env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"ops/stack {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self, *services: str) -> None:
        """Start (and wait until healthy) the named private services, or all."""
        self.stack("up", *(services or self.services))

    def stop(self, *services: str) -> None:
        """Stop the named private services, or all; the shared stack is not touched."""
        self.stack("down", *(services or self.services))

    def kill(self, service: str) -> None:
        """SIGKILL a private service's process group: a crash, not a stop."""
        record = ProcessTable(self.layout.run).running(service)
        if record is None:
            raise RuntimeError(f"private {service} is not running")
        os.killpg(record.pid, signal.SIGKILL)

    def running(self, service: str) -> bool:
        """Whether the private ``service``'s process is alive (healthy or not)."""
        return ProcessTable(self.layout.run).running(service) is not None

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class PrivateStores(PrivateStack):
    """PostgreSQL and Elasticsearch of a private stack on free ports."""

    SERVICES = ("postgres", "elasticsearch")
    PORTS = ("postgres", "elasticsearch", "elasticsearch_transport")

    @property
    def postgres_dsn(self) -> str:
        return self.layout.postgres_dsn

    @property
    def elasticsearch_url(self) -> str:
        return self.layout.url("elasticsearch")


class PrivateKafkaCluster(PrivateStack):
    """The three-broker Kafka of ``ops/stack up --brokers 3``, small heaps, on free ports."""

    SERVICES = ("kafka", "kafka-2", "kafka-3")
    PORTS = kafka_port_names(3)
    ENV = {"ALPR_STACK_KAFKA_BROKERS": "3", "ALPR_STACK_KAFKA_HEAP": "256m"}

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{self.layout.kafka_port(n)}" for n in self.layout.kafka_nodes)
