"""``alpr rules check|publish|list|history``: validate rule files and manage the live rule
set."""

from __future__ import annotations

import getpass
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from faust.cli import AppCommand, argument, option
from faust.cli.base import cli

from agents.alerting.rule_topic import publish_rules, read_history, read_rule_topic
from alpr import app
from commands.groups import group_command
from config.settings import get_settings
from notify.rule_urls import url_problems
from rules.loader import load_rules
from rules.model import AnyRule
from rules.ruleset import decode_rule


@cli.group(name="rules")
def rules_group() -> None:
    """Alert rules: check rule files (YAML or Python), publish them to the rule topic
    (alpr.rules) that every worker follows, and list the rules in force."""


RulesCommand = group_command(rules_group, "rules_")

_files = argument("files", nargs=-1, type=click.Path(path_type=Path))


async def _unsafe_urls(rules: list[AnyRule]) -> list[str]:
    """Webhook and Slack URLs the notifier would refuse (the send-time check, run now)."""
    return await url_problems(rules, get_settings().notify.allow_networks)


@app.command(_files, base=RulesCommand)
async def rules_check(self: AppCommand, files: tuple[Path, ...]) -> None:
    """Check rule files (and directories of them): every error with its file, line and field.

    Exits 1 if any file has an error. Example: alpr rules check rules/examples
    """
    if not files:
        raise click.UsageError("name at least one rule file or directory")
    result = load_rules(files)
    errors = [*map(str, result.errors), *await _unsafe_urls(result.rules)]
    for error in errors:
        self.say(error, file=sys.stderr)
    self.say(f"{len(result.rules)} rules, {len(errors)} errors")
    if errors:
        raise SystemExit(1)


@app.command(
    _files,
    option(
        "--prune/--no-prune",
        default=False,
        help="Also remove the published rules that are not in FILES (each is named); by "
        "default they are kept and listed.",
    ),
    base=RulesCommand,
)
async def rules_publish(self: AppCommand, files: tuple[Path, ...], prune: bool) -> None:
    """Check rule files and publish them to the rule topic; workers apply them at once.

    Nothing is published if any file has an error. Unchanged rules are not sent again.
    Published rules that are not in FILES stay unless --prune is given; either way each one
    is named.
    """
    if not files:
        configured = get_settings().rules.dir
        if configured is None:
            raise click.UsageError("name rule files or set ALPR_RULES__DIR")
        files = (configured,)
    result = load_rules(files)
    errors = [*map(str, result.errors), *await _unsafe_urls(result.rules)]
    for error in errors:
        self.say(error, file=sys.stderr)
    if errors:
        self.say(f"{len(errors)} errors: nothing published", file=sys.stderr)
        raise SystemExit(1)
    report = await publish_rules(
        get_settings().kafka.bootstrap_servers,
        get_settings().rules.topic,
        result.rules,
        prune,
        by=f"{getpass.getuser()}@{socket.gethostname()} (alpr rules publish)",
    )
    self.say(", ".join(f"{k}={len(v)}" for k, v in report.items()))
    if report["removed"]:
        self.say("removed: " + ", ".join(report["removed"]))
    if report["kept"]:
        self.say("kept, not in FILES (--prune removes them): " + ", ".join(report["kept"]))


@app.command(base=RulesCommand)
async def rules_list(self: AppCommand) -> None:
    """List the rules in force on the rule topic: name, type, version, enabled."""
    current = await read_rule_topic(
        get_settings().kafka.bootstrap_servers, get_settings().rules.topic
    )
    for name in sorted(current):
        rule, version = decode_rule(current[name])
        state = "enabled" if rule.enabled else "disabled"
        self.say(f"{name:<32} {rule.type:<18} {version}  {state}  {rule.severity}")
    self.say(f"{len(current)} rules")


@app.command(argument("name"), base=RulesCommand)
async def rules_history(self: AppCommand, name: str) -> None:
    """List every published version of rule NAME, oldest first: when, version, type, state,
    and who published it (a key's owner through the API, user@host from the CLI).

    The rule topic keeps only the latest version of each rule; every publish also goes to
    its history topic (<rules topic>.history), which this reads.
    """
    versions = await read_history(
        get_settings().kafka.bootstrap_servers, get_settings().rules.topic, name
    )
    for published, value, by in versions:
        when = datetime.fromtimestamp(published, UTC).isoformat(timespec="seconds")
        who = f"  by {by}" if by else ""
        if value is None:
            self.say(f"{when}  removed{who}")
            continue
        rule, version = decode_rule(value)
        state = "enabled" if rule.enabled else "disabled"
        self.say(f"{when}  {version}  {rule.type:<18} {state}  {rule.severity}{who}")
    self.say(f"{len(versions)} versions of {name}")
    if not versions:
        raise SystemExit(1)
