"""``GET /metrics``: the worker's Prometheus metrics in the text exposition format."""

from __future__ import annotations

from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from alpr import app


@app.page("/metrics")
class Metrics(View):
    """Every metric of prometheus_client's default registry (the project's and the process's)."""

    async def get(self, request: Request) -> Response:
        return self.bytes(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
