"""``alpr db migrate`` and ``alpr projections rebuild``, and the bootstrap steps of the stores."""

from __future__ import annotations

import asyncpg
import click
from faust.cli import AppCommand, option
from faust.cli.base import cli

from alpr import app
from commands.groups import group_command
from config.settings import Settings, get_settings
from ops.bootstrap import bootstrap_step
from stores.migrations import MigrationReport, migrate
from stores.pg_writer import create_partitions_ahead


@cli.group(name="db")
def db_group() -> None:
    """Manage the PostgreSQL schema: versioned SQL migrations in stores/migrations_sql/."""


@cli.group(name="projections")
def projections_group() -> None:
    """Manage the query stores fed from alpr.plates.detected (PostgreSQL, Elasticsearch)."""


DbCommand = group_command(db_group, "db_")
ProjectionsCommand = group_command(projections_group, "projections_")

#: The operators' actions on alerts that ``--store`` rebuilds from their own topics.
ALERT_EVENTS = ("assignments", "acknowledgements")


async def apply_migrations(settings: Settings) -> tuple[MigrationReport, int]:
    """Apply the migrations and create the partitions ahead; return what was done."""
    conn = await asyncpg.connect(settings.postgres.dsn)
    try:
        report = await migrate(conn)
        created = await create_partitions_ahead(
            conn, get_settings().projections.partitions_ahead_days
        )
    finally:
        await conn.close()
    return report, len(created)


def _describe(report: MigrationReport, partitions: int) -> str:
    applied = ", ".join(report.applied) or "none"
    return (
        f"mode {report.mode}; applied {applied}; {report.already} already applied; "
        f"{partitions} partition(s) created"
    )


@bootstrap_step("postgres migrations", order=30)
async def migrations_step(settings: Settings) -> str:
    report, partitions = await apply_migrations(settings)
    return _describe(report, partitions)


@app.command(base=DbCommand)
async def db_migrate(self: AppCommand) -> None:
    """Apply the SQL migrations not applied yet, recorded in schema_migrations; safe to rerun.

    Uses TimescaleDB (hypertable, continuous aggregate) when the server has the extension,
    else daily range partitions, of which the coming days' are created ahead.
    """
    report, partitions = await apply_migrations(get_settings())
    self.say(_describe(report, partitions))


@bootstrap_step("elasticsearch index template", order=40)
async def template_step(settings: Settings) -> str:
    es = settings.elasticsearch
    if not es.url:
        return "no Elasticsearch configured"
    from stores.es_docs import alias_name, index_pattern
    from stores.es_writer import make_client, put_template

    projection = get_settings().projections
    client = make_client(es.url)
    try:
        await put_template(client, es.index_prefix, projection.es_shards, projection.es_replicas)
    finally:
        await client.close()
    return (
        f"template for {index_pattern(es.index_prefix)} behind alias {alias_name(es.index_prefix)}"
    )


@app.command(
    option(
        "--since",
        "-s",
        default=None,
        help="Rebuild from this day on (90m, 2h, 3d or ISO 8601; whole UTC days). "
        "Without it, everything.",
    ),
    option(
        "--store",
        type=click.Choice(["pg", "es", *ALERT_EVENTS]),
        default=None,
        help="Rebuild only PostgreSQL's reads (pg) or only Elasticsearch (es); both by default. "
        "assignments, acknowledgements: the alerts' assignments or acknowledgements, from "
        "alpr.alerts.assigned or alpr.alerts.acknowledged (never by default).",
    ),
    option(
        "--batch-size",
        type=click.IntRange(1, 50_000),
        default=5000,
        show_default=True,
        help="Messages read and written at a time.",
    ),
    base=ProjectionsCommand,
)
async def projections_rebuild(
    self: AppCommand, since: str | None, store: str | None, batch_size: int
) -> None:
    """Empty the stores from a day on and fill them again by replaying alpr.plates.detected.

    Reads captured from the start of the --since day (UTC) are removed from PostgreSQL and the
    daily Elasticsearch indices of those days are deleted, then every read on the topic is
    written again, with a progress bar. Writes are idempotent, so workers may keep running;
    searches see partial results until the rebuild ends.
    Example: alpr projections rebuild --since 3d --store es

    With --store assignments (or acknowledgements), the alerts' assignments (or
    acknowledgements) are emptied and replayed from their topic instead (every one, whatever
    --since says), in one transaction.
    """
    from agents.deadletters.replay import parse_since
    from agents.projections.rebuild import (
        rebuild_acknowledgements,
        rebuild_assignments,
        run_rebuild,
    )

    if store in ALERT_EVENTS:
        rebuild = rebuild_assignments if store == "assignments" else rebuild_acknowledgements
        replayed = await rebuild(get_settings(), batch_size)
        self.say(
            f"{store}: {replayed.messages} messages replayed, {replayed.changed} kept, "
            f"{replayed.undecodable} not {store}"
        )
        return

    try:
        when = parse_since(since) if since else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    stores = ("pg", "es") if store is None else (store,)
    report = await run_rebuild(get_settings(), stores, when, batch_size)
    for name in stores:
        self.say(f"{name}: {report.written[name]} new, {report.refused[name]} refused")
    self.say(f"{report.messages} messages replayed, {report.undecodable} not reads")
