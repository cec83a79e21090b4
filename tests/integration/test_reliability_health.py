"""``/health`` and ``alpr_consumer_lag`` during a store outage (issue 17, finding 2).

A real worker writes reads to PostgreSQL through a :class:`tests.integration.gate.Gate`; the
gate closes (PostgreSQL "down" for this worker only), events come in, and ``/health`` must
say ``degraded``, name PostgreSQL as what it waits for, and show the PostgreSQL projection's
real lag (its committed lag on the broker), as must ``alpr_consumer_lag`` on ``/metrics``.
Once the gate opens, the lag goes back to 0 and the status to ``ok``. Before the fix
``/health`` said ``ok`` with lag 0 while thousands of reads waited.
"""

from __future__ import annotations

import asyncio
import os
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from config.settings import Settings
from ops.worker import WorkerProcess, free_port
from streams.codec import default_schema_cache
from tests.integration.conftest import require_port
from tests.integration.gate import Gate
from tests.integration.test_reliability_registry import run
from tests.integration.test_router import produce
from tests.support.isolated import IsolatedRun
from tests.support.streams import encode_plate_event

__all__ = ["run"]  # the fixture

EVENTS = 300


@pytest.fixture
async def postgres_gate(settings: Settings) -> AsyncIterator[Gate]:
    require_port(settings.postgres.dsn.replace("postgresql://", "tcp://"), "PostgreSQL")
    parts = urlsplit(settings.postgres.dsn)
    gate = Gate(parts.hostname or "127.0.0.1", parts.port or 5432)
    await gate.open()
    yield gate
    await gate.close()


def gated_dsn(settings: Settings, gate: Gate) -> str:
    parts = urlsplit(settings.postgres.dsn)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{credentials}127.0.0.1:{gate.port}"))


def consumer_lag_metric(worker: WorkerProcess, group: str) -> float:
    with urllib.request.urlopen(worker.web_url + "/metrics", timeout=5) as response:
        lines = response.read().decode().splitlines()
    prefix = f'alpr_consumer_lag{{group="{group}",'
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(prefix))


async def until(
    worker: WorkerProcess, what: str, check: Callable[[dict[str, Any]], bool], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    health: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        assert worker.process is not None and worker.process.poll() is None, worker.log_tail()
        health = await asyncio.to_thread(worker.health)
        if health is not None and check(health):
            return health
        await asyncio.sleep(0.5)
    pytest.fail(f"{what} not seen within {timeout:.0f}s; last /health: {health}")


async def test_health_is_degraded_with_the_real_lag_while_postgres_is_down(
    settings: Settings, run: IsolatedRun, postgres_gate: Gate, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        **run.env(alerts=True),
        "ALPR_POSTGRES__DSN": gated_dsn(settings, postgres_gate),
        "ALPR_PROJECTIONS__ENABLE_PG": "true",
        "ALPR_PROJECTIONS__ENABLE_ES": "false",
    }
    group = f"{run.app_id}-projection-pg"
    cache = default_schema_cache()
    raw = run.topic("raw")
    events = [
        (e.encode(), encode_plate_event(cache, f"{raw}-value", event_id=e))
        for e in (str(uuid.uuid4()) for _ in range(EVENTS))
    ]
    with WorkerProcess(tmp_path, free_port(), env=env) as worker:
        await asyncio.to_thread(worker.wait_ready, 180, 1, ("router", "projection-pg"))
        await postgres_gate.close()
        await produce(settings.kafka.bootstrap_servers, raw, events)

        def lag(health: dict[str, Any]) -> int:
            return int(health["consumers"]["projection-pg"]["lag"])

        down = await until(
            worker,
            "degraded with the lag of every read",
            lambda h: h["status"] == "degraded" and lag(h) == EVENTS,
            timeout=90,
        )
        assert "postgres" in down["waiting_on"], down
        assert down["consumers"]["projection-pg"]["handed_out_lag"] == 0  # what it showed
        assert consumer_lag_metric(worker, group) == EVENTS

        await postgres_gate.open()
        back = await until(
            worker, "ok with no lag", lambda h: h["status"] == "ok" and lag(h) == 0, timeout=120
        )
        assert back["waiting_on"] == {}
        assert consumer_lag_metric(worker, group) == 0
