"""``alpr dlq list|show|replay``: inspect the dead-letter topic and send originals back."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime

import click
from faust.cli import AppCommand, argument, option
from faust.cli.base import cli

from agents.deadletters.replay import (
    Filter,
    Unreadable,
    latest_per_original,
    parse_since,
    read_dead_letters,
    why_not_replayed,
    without_payload,
)
from agents.deadletters.replay import replay as replay_letters
from alpr import app
from commands.groups import group_command
from config.settings import get_settings
from streams.codec import default_schema_cache
from streams.failures import Reason
from streams.records import DeadLetter

REASONS = click.Choice([r.value for r in Reason])


@cli.group(name="dlq")
def dlq_group() -> None:
    """Inspect and replay dead letters: messages the core could not process, kept on the
    dead-letter topic (alpr.dlq) with the reason, the stage and the original bytes."""


DlqCommand = group_command(dlq_group, "dlq_")


def _filter(reason: tuple[str, ...], since: str | None, ids: tuple[str, ...] = ()) -> Filter:
    try:
        when = parse_since(since) if since else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    return Filter(reasons=frozenset(reason), since=when, ids=frozenset(ids))


async def _matching(chosen: Filter, out: AppCommand) -> list[DeadLetter]:
    letters: list[DeadLetter] = []
    async for item in read_dead_letters(
        get_settings().kafka.bootstrap_servers,
        get_settings().topics.dlq,
        default_schema_cache(),
        since=chosen.since,
    ):
        if isinstance(item, Unreadable):
            where = f"partition {item.partition} offset {item.offset}"
            out.say(f"skipped {where}: not a dead letter: {item.error}", file=sys.stderr)
        elif chosen.matches(item):
            letters.append(item)
    return sorted(letters, key=lambda letter: letter.failed_at)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="milliseconds") if value else "-"


_reason_option = option(
    "--reason", "-r", multiple=True, type=REASONS, help="Only this reason (repeatable)."
)
_since_option = option(
    "--since", "-s", default=None, help="Only dead letters since a time: 90m, 2h, 3d or ISO 8601."
)


@app.command(_reason_option, _since_option, base=DlqCommand)
async def dlq_list(self: AppCommand, reason: tuple[str, ...], since: str | None) -> None:
    """List dead letters, oldest first: id, failure time, reason, stage, origin, attempts.

    Ends with a count by reason. Example: alpr dlq list --reason duplicate --since 2h
    """
    letters = await _matching(_filter(reason, since), self)
    for letter in letters:
        origin = f"{letter.topic}[{letter.partition}]@{letter.offset}"
        self.say(
            f"{letter.id}  {_when(letter.failed_at)}  {letter.reason:<20} {letter.stage:<8} "
            f"{origin}  attempts={letter.attempts}  {letter.message[:80]}"
        )
    counts = Counter(letter.reason for letter in letters)
    summary = ", ".join(f"{r}={n}" for r, n in counts.most_common()) or "none"
    self.say(f"{len(letters)} dead letters ({summary})")


@app.command(argument("letter_id", metavar="ID"), base=DlqCommand)
async def dlq_show(self: AppCommand, letter_id: str) -> None:
    """Show one dead letter in full: every field and the start of the original bytes."""
    letters = await _matching(_filter((), None, (letter_id,)), self)
    if not letters:
        self.say(f"no dead letter with id {letter_id}", file=sys.stderr)
        raise SystemExit(1)
    letter = letters[-1]
    for name in ("id", "reason", "stage", "message", "topic", "partition", "offset", "event_id",
                 "attempts", "worker"):  # fmt: skip
        self.say(f"{name:>16}: {getattr(letter, name)}")
    for name in ("timestamp", "first_failed_at", "failed_at"):
        self.say(f"{name:>16}: {_when(getattr(letter, name))}")
    self.say(f"{'key':>16}: {letter.key!r}")
    payload = letter.payload
    size = "none" if payload is None else f"{len(payload)} bytes"
    self.say(f"{'payload':>16}: {size}")
    if payload:
        self.say(f"{'':>16}  {payload[:256].hex(' ')}{' ...' if len(payload) > 256 else ''}")


@app.command(
    _reason_option,
    _since_option,
    option("--dry-run", is_flag=True, default=False, help="Say what would be sent; send nothing."),
    base=DlqCommand,
)
async def dlq_replay(
    self: AppCommand, reason: tuple[str, ...], since: str | None, dry_run: bool
) -> None:
    """Send the original bytes of dead letters back to the topic and partition they came from.

    Each original is sent once, however often it failed before; it carries its failure
    history, so if it fails again its new dead letter counts the attempt. Events already
    routed are recognised by the dedupe table, so a replay adds no duplicate reads. A dead
    letter without the original bytes (an empty message, or one too large to keep) cannot
    be replayed: it is skipped, and said so. Example: alpr dlq replay --reason unwritable
    """
    matching = await _matching(_filter(reason, since), self)
    skipped = without_payload(matching)
    for letter in skipped:
        self.say(why_not_replayed(letter), file=sys.stderr)
    letters = latest_per_original(matching)
    if dry_run:
        counts = Counter(letter.reason for letter in letters)
    else:
        counts = await replay_letters(get_settings().kafka.bootstrap_servers, letters)
    summary = ", ".join(f"{r}={n}" for r, n in counts.most_common()) or "none"
    verb = "would replay" if dry_run else "replayed"
    tail = f"; {len(skipped)} skipped without payload" if skipped else ""
    self.say(f"{verb} {sum(counts.values())} messages ({summary}){tail}")
