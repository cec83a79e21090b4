"""Which services this process is waiting for, right now: for ``/health`` and ``/metrics``.

Every retry loop that waits out an outage (:func:`streams.retry.retry_until_done`) reports
here: the component (named by an :class:`streams.failures.Unavailable`, by the loop, or
found by :func:`component_of`) is down from the first failed attempt until the loop ends.
One process-wide record, like the batch consumers' ``RUNNING``: it describes this process's
connections, not state to keep across a restart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

UP = Gauge(
    "alpr_dependency_up",
    "0 while a stage of this process waits for the component (registry, kafka, a store) to "
    "come back, 1 once it answered again",
    ["component"],
)
RETRIES = Counter(
    "alpr_dependency_retries_total",
    "Attempts that failed because the component could not be reached, each waited out",
    ["component"],
)


#: Words in a failed attempt's exception module or description -> the component it needs.
_COMPONENTS = (
    ("registry", "registry"),
    ("postgres", "postgres"),
    ("asyncpg", "postgres"),
    ("elastic", "elasticsearch"),
    ("kafka", "kafka"),
)


def component_of(what: str, error: BaseException) -> str:
    """The component a failed attempt waited for, from its exception's module and the
    retry's description (``PostgreSQL write``, ``Elasticsearch bulk``); ``other`` if
    neither names one. A short, fixed set: each is a label of the metrics."""
    text = f"{type(error).__module__} {what}".lower()
    for word, component in _COMPONENTS:
        if word in text:
            return component
    return "other"


@dataclass
class Outage:
    since: float
    error: str
    failures: int = 1


class Outages:
    """The components found down and not yet seen back, with the first time and last error."""

    def __init__(self) -> None:
        self._down: dict[str, Outage] = {}

    def down(self, component: str, error: BaseException | str) -> None:
        """Note a failed attempt on ``component``."""
        text = error if isinstance(error, str) else repr(error)
        outage = self._down.get(component)
        if outage is None:
            self._down[component] = Outage(time.monotonic(), text)
        else:
            outage.error, outage.failures = text, outage.failures + 1
        UP.labels(component).set(0)
        RETRIES.labels(component).inc()

    def up(self, component: str) -> None:
        """Note a successful attempt on ``component``."""
        if self._down.pop(component, None) is not None:
            UP.labels(component).set(1)

    def is_down(self, component: str) -> bool:
        return component in self._down

    def status(self) -> dict[str, dict[str, object]]:
        """Per component down: for how long, how many failed attempts, the last error."""
        now = time.monotonic()
        return {
            name: {"down_s": round(now - o.since, 1), "failures": o.failures, "error": o.error}
            for name, o in sorted(self._down.items())
        }


#: This process's outages.
OUTAGES = Outages()
