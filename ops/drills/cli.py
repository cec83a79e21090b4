"""``alpr drill``: the reliability drills as one repeatable command (issue 17)."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import click
from faust.cli import AppCommand, option

from alpr import app
from ops.drills.catalog import Drill
from ops.drills.index import DRILLS
from ops.drills.runner import DrillResult, run_drill
from ops.drills.stack import DrillStack
from ops.drills.tally import STORES

_HEADER = ("drill", "sent", "detected", "postgres", "elastic", "lost", "dup", "dead-let",
           "recover", "crashed")  # fmt: skip
_WIDTHS = (19, 7, 9, 9, 8, 5, 5, 8, 8, 7)


def _help() -> str:
    lines = [
        "Run the reliability drills against a private stack on free ports and print, per "
        "drill: events sent, arrived in each store (the detected topic, PostgreSQL, "
        "Elasticsearch), lost, duplicated, dead-lettered, the time from the end of the "
        "fault until the last event arrived, and whether a process crashed.",
        "The private stack (Kafka, the registry, PostgreSQL, Elasticsearch; three brokers "
        "when broker-kill runs) reuses the shared stack's installed software and is removed "
        "afterwards; each drill has topics, groups and a worker of its own. Exits 1 when a "
        "drill lost an event or a process crashed.",
        "\b\nDrills (all but those marked --full run by default):",
    ]
    for drill in DRILLS.values():
        mark = " [--full]" if drill.full_only else ""
        text = textwrap.fill(f"{drill.name}{mark}: {drill.summary}", 76, subsequent_indent="    ")
        lines.append(f"\b\n  {text}")
    lines.append("Example: alpr drill --drill worker-kill --events 300 --json")
    return "\n\n".join(lines)


def chosen(names: tuple[str, ...], full: bool) -> list[Drill]:
    """The drills named, else every default one (and the --full ones with ``full``)."""
    if names:
        return [DRILLS[name] for name in names]
    return [d for d in DRILLS.values() if full or not d.full_only]


def table(results: list[DrillResult]) -> str:
    def row(cells: tuple[Any, ...]) -> str:
        return "  ".join(
            str(c).ljust(w) if n == 0 else str(c).rjust(w)
            for n, (c, w) in enumerate(zip(cells, _WIDTHS, strict=True))
        )

    lines = [row(_HEADER)]
    for r in results:
        recover = "-" if r.recover_s is None else f"{r.recover_s:.1f}s"
        arrived = tuple(r.arrived.get(s, 0) for s in STORES)
        crashed = "yes" if r.crashed else "no"
        lines.append(row((r.drill, r.sent, *arrived, r.lost, r.duplicated, r.dead_lettered,
                          recover, crashed)))  # fmt: skip
    return "\n".join(lines)


async def run_drills(
    drills: list[Drill], events: int, outage_s: float, keep: bool
) -> list[DrillResult]:
    """Start the private stack, run ``drills`` one after the other on it, remove it."""

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="alpr-drill-"))
    stack = DrillStack(max(d.brokers for d in drills), workdir)
    began = time.monotonic()
    say(f"starting a private stack ({stack.brokers} broker(s)) in {stack.private.root} ...")
    results = []
    try:
        await asyncio.to_thread(stack.start)
        say(f"private stack up in {time.monotonic() - began:.0f}s")
        for drill in drills:
            try:
                results.append(await run_drill(stack, drill, events, outage_s, say))
            except Exception as exc:  # one failed drill must not hide the others' rows
                say(f"[{drill.name}] failed: {exc!r}")
                results.append(DrillResult(drill.name, events, {}, events, 0, 0, None,
                                           [f"drill failed: {exc!r}"]))  # fmt: skip
    finally:
        if keep:
            say(f"kept: the private stack in {stack.private.root}, workers in {workdir}")
        else:
            await asyncio.to_thread(stack.close)
            shutil.rmtree(workdir, ignore_errors=True)
    return results


async def drill(
    self: AppCommand,
    names: tuple[str, ...],
    full: bool,
    events: int,
    outage_s: float,
    as_json: bool,
    keep: bool,
) -> None:
    results = await run_drills(chosen(names, full), events, outage_s, keep)
    if as_json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        print(table(results))
        for r in results:
            for line in [*r.crashed, *r.notes]:
                print(f"  {r.drill}: {line}")
    if not all(r.ok for r in results):
        raise SystemExit(1)


drill.__doc__ = _help()  # click's help: built from the drills' own summaries
drill_command = app.command(
    option("--drill", "names", multiple=True, type=click.Choice(list(DRILLS)),
           help="Run only this drill (repeatable)."),
    option("--full", is_flag=True, help="Every drill, the three-broker one included."),
    option("--events", type=click.IntRange(10, 1_000_000), default=3000, show_default=True,
           help="Valid events each drill sends."),
    option("--outage", "outage_s", type=click.FloatRange(1, 600), default=20.0,
           show_default=True, help="Seconds a stopped or killed store stays down."),
    option("--json", "as_json", is_flag=True,
           help="Print the results as JSON (one object per drill) instead of the table."),
    option("--keep", is_flag=True,
           help="Keep the private stack and the workers' logs (their folders are printed)."),
)(drill)  # fmt: skip
