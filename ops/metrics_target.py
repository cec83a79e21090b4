"""A running worker announces its ``/metrics`` to the local stack's Prometheus.

When the stack's Prometheus has its target directory on this machine (``ops/stack up``), each
``faust -A alpr worker`` writes its target file there at start and removes it at exit, so
Prometheus scrapes every worker, on whatever port, without a list kept by hand. Elsewhere
(a site with its own Prometheus) the directory does not exist and nothing is written.
"""

from __future__ import annotations

import asyncio
import atexit
import logging

from alpr import app
from ops.layout import Layout
from ops.monitoring import targets_dir
from ops.scrape_targets import WORKER_JOB, announce, withdraw

log = logging.getLogger(__name__)


@app.task
async def announce_metrics_target() -> None:
    """Write this worker's target file; remove it when the worker stops."""
    directory = targets_dir(Layout())
    if not directory.is_dir():
        return
    try:
        path = announce(
            directory,
            WORKER_JOB,
            app.conf.web_port,
            host=app.conf.web_host,
            labels={"app": app.conf.id},
        )
    except OSError as exc:  # monitoring must not stop the worker: say why it is not scraped
        log.warning("cannot announce /metrics to Prometheus in %s: %s", directory, exc)
        return
    log.info("announced /metrics on port %s to Prometheus (%s)", app.conf.web_port, path)
    atexit.register(withdraw, path)  # also when the loop ends without cancelling its tasks
    try:
        await asyncio.Event().wait()  # until the worker stops and cancels its tasks
    finally:
        withdraw(path)
