"""Liveness endpoint of the worker's web server."""

from __future__ import annotations

import time

from faust.web import Request, Response, View

from alpr import app
from streams.batch_consumer import RUNNING
from streams.outages import OUTAGES

_STARTED = time.monotonic()


@app.page("/health")
class Health(View):
    """``GET /health``: 200 with the worker's state while the app runs: its Faust partitions,
    per batch consumer (router, projections) its group, partitions and lag, and the services
    it waits for; ``status`` is ``degraded`` while it waits for one (registry, Kafka, a store)."""

    async def get(self, request: Request) -> Response:
        waiting = OUTAGES.status()
        return self.json(
            {
                "status": "degraded" if waiting else "ok",
                "waiting_on": waiting,
                "app": app.conf.id,
                "uptime_s": round(time.monotonic() - _STARTED, 3),
                "assigned_partitions": len(app.assignor.assigned_actives()),
                "consumers": {name: c.status() for name, c in sorted(RUNNING.items())},
            }
        )
