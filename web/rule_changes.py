"""The live rule set as the web views change it: read from the rule topic, published to it
as ``alpr rules publish`` does (``agents.alerting.rule_topic.publish_rules``; every worker
applies a change at once), and every change written to the rule audit with the key that
made it. ``/api/rules`` and the watch list pages both go through here."""

from __future__ import annotations

from agents.alerting.rule_topic import publish_rules, read_rule_topic
from config.settings import get_settings
from rules.model import AnyRule
from rules.ruleset import decode_rule
from web.app_state import WebResources
from web.auth import rule_audit
from web.auth.keys import ApiKey


async def current_rules(state: WebResources) -> dict[str, AnyRule]:
    """The rules in force, by name."""
    bootstrap = state.settings.kafka.bootstrap_servers
    raw = await read_rule_topic(bootstrap, get_settings().rules.topic)
    return {name: decode_rule(value)[0] for name, value in raw.items()}


async def publish(state: WebResources, rules: list[AnyRule], prune: bool, key: ApiKey) -> None:
    """Publish ``rules``; with ``prune`` the rules not among them are removed. The rule
    history keeps the key's owner and id as the publisher of each version."""
    bootstrap = state.settings.kafka.bootstrap_servers
    by = f"{key.owner} (key {key.key_id})"
    await publish_rules(bootstrap, get_settings().rules.topic, rules, prune, by=by)


async def record(
    state: WebResources, key: ApiKey, name: str, action: rule_audit.Action,
    before: AnyRule | None, after: AnyRule | None,
) -> None:  # fmt: skip
    """One rule_audit row for a change just published, with the key that made it."""
    await rule_audit.record(
        await state.pool(), key, name, action,
        None if before is None else before.model_dump(mode="json"),
        None if after is None else after.model_dump(mode="json"),
    )  # fmt: skip


async def put_rule(state: WebResources, key: ApiKey, rule: AnyRule, before: AnyRule | None) -> None:
    """Publish one new or changed rule (the others untouched) and audit the change."""
    await publish(state, [rule], prune=False, key=key)
    await record(state, key, rule.name, "create" if before is None else "replace", before, rule)
