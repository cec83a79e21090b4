"""The private stack a run of drills uses, and one drill's topics and workers on it.

One private stack (``ops.private_stack``: Kafka, the registry, PostgreSQL, Elasticsearch on
free ports, the shared stack's installed software) serves every drill of a run; each drill
has topics, a Faust app id (so consumer groups and changelogs) and worker folders of its
own, and its events have ids of their own, so drills never count each other's events.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from ops import probes
from ops.private_stack import PrivateStack, kafka_port_names
from ops.worker import ROOT, WorkerProcess, free_port
from streams.codec import SchemaCache
from streams.registry import SchemaRegistryClient

#: The services every drill needs: a worker projects into both stores through the registry.
SERVICES = ("postgres", "registry", "kafka", "elasticsearch")
STORE_PORTS = (
    "registry", "registry_management", "postgres", "elasticsearch", "elasticsearch_transport",
)  # fmt: skip
PARTITIONS = 4
#: The contract's topics a drill's worker is given (``ALPR_TOPICS__*``) and the stages' own.
CORE_TOPICS = ("raw", "detected", "dlq", "cameras", "corrected")
#: What a worker's log says when Faust gives up on it: the drill counts it as a crash.
CRASH_MARKS = (
    "We experienced a crash", "Crashed reason",
    # Faust's consumer coordinator died: the worker runs on without its agents' partitions.
    "Unexpected error in coordinator routine",
)  # fmt: skip
ES_PREFIX = "drill"


class DrillStack:
    """The private stack of one run of drills, with ``brokers`` Kafka brokers (1 or 3)."""

    def __init__(self, brokers: int, workdir: Path) -> None:
        kafka = ("kafka",) if brokers == 1 else ("kafka", "kafka-2", "kafka-3")
        env = {"ALPR_STACK_KAFKA_BROKERS": str(brokers), "ALPR_STACK_KAFKA_HEAP": "256m"}
        self.private = PrivateStack(
            services=(*SERVICES, *kafka[1:]),
            ports=(*STORE_PORTS, *kafka_port_names(brokers)),
            env=env,
        )
        self.brokers = brokers
        self.workdir = workdir
        self.layout = self.private.layout
        self.cache = SchemaCache(SchemaRegistryClient(self.layout.url("registry")))

    @property
    def bootstrap(self) -> str:
        nodes = self.layout.kafka_nodes
        return ",".join(f"{self.layout.host}:{self.layout.kafka_port(n)}" for n in nodes)

    @property
    def kafka_services(self) -> list[str]:
        return ["kafka" if n == 1 else f"kafka-{n}" for n in self.layout.kafka_nodes]

    def settings_env(self) -> dict[str, str]:
        """The ``ALPR_*`` settings that point a worker or command at the private stack."""
        return {
            **self.layout.settings_env(),
            "ALPR_ELASTICSEARCH__INDEX_PREFIX": ES_PREFIX,
            "ALPR_KAFKA__REPLICATION_FACTOR": str(self.brokers),
            "ALPR_KAFKA__PARTITIONS": str(PARTITIONS),
        }

    def registry_serving(self) -> bool:
        """Whether the registry answers a request that reads its storage."""
        try:
            probes.registry(self.layout.url("registry"))
        except probes.ProbeError:
            return False
        return True

    def start(self) -> None:
        """Start the services and create the stores' tables and index template."""
        self.private.start()
        done = subprocess.run(
            [sys.executable, "-m", "faust", "-A", "alpr", "bootstrap",
             "--only", "postgres migrations", "--only", "elasticsearch index template"],
            cwd=ROOT, env={**os.environ, **self.settings_env()}, capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(
                f"bootstrap of the private stack failed:\n{done.stdout}{done.stderr}"
            )

    def close(self) -> None:
        self.private.close()


@dataclass
class DrillRun:
    """One drill's topics, app id and workers on the private stack."""

    stack: DrillStack
    name: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    workers: list[WorkerProcess] = field(default_factory=list)
    #: Workers the drill killed on purpose: their end is no crash.
    killed: list[WorkerProcess] = field(default_factory=list)

    @property
    def app_id(self) -> str:
        return f"alpr-drill-{self.tag}"

    def topic(self, name: str) -> str:
        return f"drill.{self.tag}.{name}"

    def worker_env(self) -> dict[str, str]:
        return {
            **self.stack.settings_env(),
            "ALPR_FAUST__APP_ID": self.app_id,
            **{f"ALPR_TOPICS__{name.upper()}": self.topic(name) for name in CORE_TOPICS},
            "ALPR_RULES__TOPIC": self.topic("rules"),
            "ALPR_RULES__ALERTS_TOPIC": self.topic("alerts"),
            # The slow webhook drill's receiver listens on loopback.
            "ALPR_NOTIFY__ALLOW_NETWORKS": '["127.0.0.0/8"]',
            # A static member: a worker started after a SIGKILL takes its partitions back.
            "ALPR_KAFKA__WORKER_ID": f"drill-{self.tag}",
        }

    async def create_topics(self) -> None:
        """The drill's topics, as a deployment makes them: ``alpr bootstrap``'s topic step
        with the worker's settings (a stage that subscribes to a topic not there yet, such
        as the alert agent to the rule feed's, misses it until a metadata refresh)."""
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "faust", "-A", "alpr", "bootstrap", "--only", "kafka topics"],
            cwd=ROOT, env={**os.environ, **self.worker_env()}, capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            output = done.stdout + done.stderr
            raise RuntimeError(f"the drill's topics were not created:\n{output}")

    def start_worker(self, web_port: int | None = None) -> WorkerProcess:
        """A worker of the drill's app; ``web_port``: a restarted worker's, as a supervisor
        starts it again (Faust's assignor insists on a static member's old URL)."""
        folder = self.stack.workdir / self.name / f"worker-{len(self.workers) + 1}"
        worker = WorkerProcess(folder, web_port or free_port(), env=self.worker_env()).start()
        self.workers.append(worker)
        return worker

    async def wait_ready(self, worker: WorkerProcess, timeout_s: float = 240.0) -> None:
        consumers = ("router", "projection-pg", "projection-es")
        await asyncio.to_thread(worker.wait_ready, timeout_s, 1, consumers)

    def kill_worker(self, worker: WorkerProcess) -> None:
        assert worker.process is not None
        self.killed.append(worker)
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait()

    def crashes(self) -> list[str]:
        """What crashed: a worker that exited on its own, or whose log says Faust crashed."""
        found = []
        for worker in self.workers:
            if worker in self.killed:
                continue
            if worker.process is not None and worker.process.poll() is not None:
                found.append(f"{worker.workdir.name} exited ({worker.process.returncode})")
            log = worker.log_path.read_text(errors="replace") if worker.log_path.exists() else ""
            if marks := [m for m in CRASH_MARKS if m in log]:
                found.append(f"{worker.workdir.name}: {', '.join(marks)}")
        return found

    def stop_workers(self) -> None:
        for worker in self.workers:
            if worker not in self.killed:
                worker.stop()


async def partition_leader(bootstrap: str, topic: str, partition: int) -> int:
    """The node id of the broker leading ``topic``'s ``partition``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    leaders = {p["partition"]: p["leader"] for p in described["partitions"]}
    return int(leaders[partition])


@dataclass
class Sent:
    """What a sender got acknowledged, and the keys it could not send."""

    acked: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)


async def send(
    bootstrap: str,
    topic: str,
    messages: list[tuple[bytes, bytes]],
    duration_s: float,
    third: asyncio.Event | None = None,
) -> Sent:
    """Send ``messages`` spread over about ``duration_s`` seconds (a load the fault lands in),
    setting ``third`` once a third of them are out; every send waits for all in-sync replicas
    and is idempotent (the project's producer settings)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
        request_timeout_ms=30_000,
    )  # fmt: skip
    await producer.start()
    ticks = max(1, int(duration_s * 10))
    per_tick = max(1, -(-len(messages) // ticks))
    futures: dict[str, Any] = {}
    try:
        for n, (key, value) in enumerate(messages):
            if third is not None and n == len(messages) // 3:
                third.set()
            futures[key.decode()] = await producer.send(topic, value=value, key=key)
            if n % per_tick == per_tick - 1:
                await asyncio.sleep(0.1)
        if third is not None:
            third.set()
        results = await asyncio.gather(*futures.values(), return_exceptions=True)
    finally:
        await producer.stop()
    sent = Sent()
    for sent_key, result in zip(futures, results, strict=True):
        (sent.failed if isinstance(result, BaseException) else sent.acked).add(sent_key)
    return sent
