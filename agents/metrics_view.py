"""``GET /metrics``: the worker's Prometheus metrics in the text exposition format."""

from __future__ import annotations

from faust.web import Request, Response, View
from prometheus_client import REGISTRY, generate_latest

from alpr import app

#: Prometheus text exposition format, as ``prometheus_client.CONTENT_TYPE_LATEST`` less charset.
EXPOSITION_TYPE = "text/plain; version=0.0.4"


@app.page("/metrics")
class Metrics(View):
    """Every metric of prometheus_client's default registry (the project's and the process's)."""

    async def get(self, request: Request) -> Response:
        # aiohttp takes the charset apart from the content type; the text format is UTF-8.
        response = self.bytes(generate_latest(REGISTRY), content_type=EXPOSITION_TYPE)
        response.charset = "utf-8"  # type: ignore[misc]  # settable on aiohttp responses
        return response
