"""The Faust application of the ALPR platform.

``faust -A alpr worker`` (or ``alpr worker``) runs it. This module builds the app and nothing
else: agents, tables, views and commands live in the project's packages and are found by
Faust's autodiscovery, so they import ``app`` from here and this module never imports them.
"""

from __future__ import annotations

import logging
import sys

import faust

from config.settings import SettingsError, get_settings
from ops import faust_fixes, heap, logs
from streams.log_format import logging_config
from streams.log_limit import limit_repeated_lines

#: Packages scanned for @app.agent, @app.table, @app.page, @app.command and friends.
#: The edge is not among them: the core worker does not load it (its commands: ``commands.edge``).
DISCOVERED_PACKAGES = [
    "streams", "tables", "agents", "web", "ops", "stores", "commands",
]  # fmt: skip


def _create_app() -> faust.App:
    faust_fixes.apply()  # upstream bugs that lose reads after a rebalance
    logs.apply()  # every command logs in log_format, not only the worker
    try:
        settings = get_settings()
    except SettingsError as exc:
        sys.stderr.write(f"{exc}\n")
        raise SystemExit(2) from None
    return faust.App(
        settings.faust.app_id,
        origin="alpr",
        autodiscover=DISCOVERED_PACKAGES,
        broker=settings.kafka.broker,
        store=settings.faust.store,
        datadir=str(settings.faust.data_dir),
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        # A crashed worker's partitions are taken over after this, not Faust's 60 s.
        broker_session_timeout=settings.kafka.session_timeout_s,
        broker_heartbeat_interval=settings.kafka.heartbeat_interval_s,
        # A static member with kafka.worker_id: a restarted worker takes its partitions back.
        consumer_group_instance_id=settings.kafka.group_instance_id("faust"),
        web_host=settings.web.host,
        web_port=settings.web.port,
        web_bind=settings.web.host,
        web_in_thread=False,
        # Kafka is the log of record: acks from every in-sync replica.
        producer_acks=-1,
        # A dead letter carries the original payload (up to the raw topic's 8 MiB) plus headers.
        producer_max_request_size=16 * 1024 * 1024,
        topic_allow_declare=True,
        # Every command runs under a Faust worker, which sets its log handlers up from this.
        logging_config=logging_config(settings.log_format),
    )


app = _create_app()


@app.task
async def time_gc_pauses() -> None:
    """Every garbage collection of a running worker timed into alpr_gc_pause_seconds (not
    in one-shot commands such as ``alpr read``, whose output is theirs alone)."""
    heap.watch_pauses()


#: Repeated log lines: at most LOG_BURST of one kind per LOG_WINDOW_S seconds.
LOG_WINDOW_S = 10.0
LOG_BURST = 3


@app.task
async def limit_repeated_log_lines() -> None:
    """Rate-limit repeated log lines in the whole worker (``streams.log_limit``): an outage
    is a few lines and a count, not thousands. A task of the app, so it runs once the
    worker has set its log handlers up (one-shot commands keep every line)."""
    if limit_repeated_lines(window_s=LOG_WINDOW_S, burst=LOG_BURST) is not None:
        logging.getLogger(__name__).info(
            "repeated log lines limited to %d per %.0fs of each kind", LOG_BURST, LOG_WINDOW_S
        )


#: What ``alpr --help`` says first (Faust's own banner points at Faust's site).
CLI_HELP = (
    "The ALPR platform's command line: the core worker (alpr worker), the edge (alpr edge, "
    "alpr read), the stores, rules, keys and dead letters. Every command has --help."
)
#: Faust's developer commands, hidden from ``alpr --help`` (they still run).
FAUST_INTERNALS = (
    "agents",
    "clean-versions",
    "completion",
    "livecheck",
    "model",
    "reset",
    "send",
    "tables",
)


def main() -> None:
    """Console script ``alpr``: the Faust CLI bound to this app (``alpr worker`` etc.)."""
    from faust.cli.faust import cli

    if "-A" not in sys.argv[1:] and not any(a.startswith("--app") for a in sys.argv[1:]):
        sys.argv[1:1] = ["-A", "alpr"]
    cli.help = CLI_HELP
    for name in FAUST_INTERNALS:
        command = cli.commands.get(name)
        if command is not None:
            command.hidden = True  # still runs; only left out of the list
    cli(prog_name="alpr")
