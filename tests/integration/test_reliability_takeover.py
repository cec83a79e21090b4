"""A lone worker killed with SIGKILL and started again takes its partitions back (issue 17,
finding 3), and how long that takes.

The killed worker never leaves its consumer groups: the new one is given partitions only once
the group has given up on the dead member (its session timeout; Faust's own default of 60 s
kept a restarted worker idle for about a minute), unless the worker has a ``kafka.worker_id``:
its consumers are then static members, and the restarted worker takes its predecessor's place
at once. The test runs both ways, checks that every event produced after the restart is
routed and prints the time from the restart to the last read; it sets no bound on that time
(a figure, measured in the issue's note, not a timed test). Run with ``-s`` to see it;
``ALPR_KAFKA__SESSION_TIMEOUT_S`` in the environment changes the setting.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from config.settings import Settings
from ops.worker import WorkerProcess, free_port
from streams.codec import default_schema_cache
from tests.integration.test_reliability_registry import run
from tests.integration.test_router import Collector, produce
from tests.support.isolated import IsolatedRun
from tests.support.streams import encode_plate_event

__all__ = ["run"]  # the fixture

EVENTS = 50


@pytest.mark.parametrize("membership", ["dynamic", "static"])
async def test_a_worker_restarted_after_sigkill_takes_its_partitions_back(
    settings: Settings, run: IsolatedRun, tmp_path: Path, membership: str
) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    raw = run.topic("raw")
    cache = default_schema_cache()
    env = {
        **os.environ,
        **run.env(alerts=True),
        # the stores' projections are not under test here
        "ALPR_PROJECTIONS__ENABLE_PG": "false",
        "ALPR_PROJECTIONS__ENABLE_ES": "false",
    }
    env.pop("ALPR_KAFKA__WORKER_ID", None)
    if membership == "static":
        env["ALPR_KAFKA__WORKER_ID"] = f"takeover-{uuid.uuid4().hex[:8]}"
    port = free_port()
    first = WorkerProcess(tmp_path, port, env=env).start()
    try:
        await asyncio.to_thread(first.wait_ready, 180, 1, ("router",))
    finally:
        assert first.process is not None
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait()

    events = {str(uuid.uuid4()) for _ in range(EVENTS)}
    messages = [(e.encode(), encode_plate_event(cache, f"{raw}-value", event_id=e)) for e in events]
    async with Collector(bootstrap, run.topic("detected"), "PlateRead") as reads:
        restarted = time.monotonic()
        with WorkerProcess(tmp_path, port, env=env) as second:
            await produce(bootstrap, raw, messages)
            await reads.wait_for(EVENTS, timeout=240)
            took = time.monotonic() - restarted
            ready = second.health()
        assert {r["event_id"] for r in reads.records} == events
        if membership == "static":  # the router's consumer joined under its instance id
            member = f"with member_id {env['ALPR_KAFKA__WORKER_ID']}-router-"
            assert member in second.log_path.read_text(errors="replace")
        print(
            f"\ntakeover ({membership} membership): every read routed {took:.1f}s after the "
            f"restart; /health: {ready}"
        )
