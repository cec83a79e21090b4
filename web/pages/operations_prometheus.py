"""A small client of Prometheus's HTTP API for the operations page: range and instant queries
and the alerts, parsed into typed values.

The parsing is pure (``parse_matrix``, ``parse_vector``, ``parse_alerts`` take the decoded JSON
answer) so it is tested against recorded answers. Two kinds of failure are kept apart:
``PrometheusUnavailable`` (nothing answered, or not with the API's JSON: the whole page says so)
and ``QueryFailed`` (Prometheus refused one expression: only that chart says so).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp


class PrometheusUnavailable(Exception):
    """Prometheus did not answer, or not as its API does."""


class QueryFailed(Exception):
    """Prometheus answered with an error for one query (a bad expression, a timeout)."""


@dataclass(frozen=True)
class Series:
    """One time series: its labels and its ``(unix seconds, value)`` points, NaN left out
    (``histogram_quantile`` gives NaN where nothing was observed)."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]

    @property
    def last(self) -> float | None:
        return self.points[-1][1] if self.points else None


@dataclass(frozen=True)
class PromAlert:
    """An alert Prometheus holds, pending or firing."""

    name: str
    state: str
    severity: str
    since: datetime | None
    summary: str
    labels: Mapping[str, str] = field(default_factory=dict)


def _data(answer: Any, result_type: str | None) -> Any:
    if not isinstance(answer, dict) or "status" not in answer:
        raise PrometheusUnavailable(f"not a Prometheus API answer: {str(answer)[:200]}")
    if answer["status"] != "success":
        raise QueryFailed(f"{answer.get('errorType', 'error')}: {answer.get('error', '?')}")
    data = answer.get("data")
    if result_type is not None:
        if not isinstance(data, dict) or data.get("resultType") != result_type:
            got = data.get("resultType") if isinstance(data, dict) else type(data).__name__
            raise QueryFailed(f"expected a {result_type} result, got {got}")
    return data


def _points(values: list[list[Any]]) -> tuple[tuple[float, float], ...]:
    points = ((float(t), float(v)) for t, v in values)
    return tuple((t, v) for t, v in points if not math.isnan(v))


def parse_matrix(answer: Any) -> list[Series]:
    """The series of a ``query_range`` answer."""
    data = _data(answer, "matrix")
    return [Series(dict(s["metric"]), _points(s["values"])) for s in data["result"]]


def parse_vector(answer: Any) -> list[Series]:
    """The samples of an instant ``query`` answer, one point each."""
    data = _data(answer, "vector")
    return [Series(dict(s["metric"]), _points([s["value"]])) for s in data["result"]]


def _when(value: str | None) -> datetime | None:
    if not value or value.startswith("0001-01-01"):
        return None
    # Prometheus writes nanoseconds (9 digits); fromisoformat reads at most 6.
    head, _, tail = value.replace("Z", "+00:00").partition(".")
    if tail:
        digits = "".join(c for c in tail if c.isdigit())
        value = f"{head}.{digits[:6]}{tail[len(digits) :]}"
    else:
        value = head
    return datetime.fromisoformat(value).astimezone(UTC)


def parse_alerts(answer: Any) -> list[PromAlert]:
    """The alerts of an ``/api/v1/alerts`` answer, firing ones first, then by name."""
    data = _data(answer, None)
    alerts = [
        PromAlert(
            name=a["labels"].get("alertname", "?"),
            state=a.get("state", "?"),
            severity=a["labels"].get("severity", "-"),
            since=_when(a.get("activeAt")),
            summary=a.get("annotations", {}).get("summary", ""),
            labels=dict(a["labels"]),
        )
        for a in data["alerts"]
    ]
    return sorted(alerts, key=lambda a: (a.state != "firing", a.name, sorted(a.labels.items())))


class Prometheus:
    """Queries of one Prometheus server, each within ``timeout`` seconds."""

    def __init__(self, url: str, timeout: float, session: aiohttp.ClientSession) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be above 0 seconds, not {timeout}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = session

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        try:
            async with self._session.get(
                f"{self.url}/api/v1/{path}",
                params=params,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                if response.content_type != "application/json":
                    raise PrometheusUnavailable(
                        f"{self.url} answered HTTP {response.status} ({response.content_type})"
                    )
                return await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise PrometheusUnavailable(f"{self.url}: {exc!r}") from exc

    async def query_range(
        self, expr: str, start: datetime, end: datetime, step_s: float
    ) -> list[Series]:
        params = {
            "query": expr,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{step_s:g}",
        }
        return parse_matrix(await self._get("query_range", params))

    async def query(self, expr: str) -> list[Series]:
        return parse_vector(await self._get("query", {"query": expr}))

    async def alerts(self) -> list[PromAlert]:
        return parse_alerts(await self._get("alerts", {}))
