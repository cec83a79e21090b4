"""``MeteredView``: the one place that counts and times every API and page request."""

from __future__ import annotations

import time
from typing import Any

from faust.web import View

from web import metrics


class MeteredView(View):
    """Counts answers by view and status and times them; subclasses answer in ``_answer``
    (which turns their failures into responses)."""

    async def dispatch(self, request: Any) -> Any:
        started = time.perf_counter()
        response = await self._answer(request)
        name = type(self).__name__
        metrics.REQUESTS.labels(name, str(response.status)).inc()
        metrics.LATENCY.labels(name).observe(time.perf_counter() - started)
        return response

    async def _answer(self, request: Any) -> Any:
        return await self._view(request)

    async def _view(self, request: Any) -> Any:
        """The view's own handler (``get``, ``post``...), without the metering."""
        return await View.dispatch(self, request)
