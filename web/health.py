"""Liveness endpoint of the worker's web server."""

from __future__ import annotations

import time

from faust.web import Request, Response, View

from alpr import app
from streams.batch_consumer import RUNNING

_STARTED = time.monotonic()


@app.page("/health")
class Health(View):
    """``GET /health``: 200 with the worker's state while the app runs: its Faust partitions
    and, per batch consumer (router, projections), its group, partitions and lag."""

    async def get(self, request: Request) -> Response:
        return self.json(
            {
                "status": "ok",
                "app": app.conf.id,
                "uptime_s": round(time.monotonic() - _STARTED, 3),
                "assigned_partitions": len(app.assignor.assigned_actives()),
                "consumers": {name: c.status() for name, c in sorted(RUNNING.items())},
            }
        )
