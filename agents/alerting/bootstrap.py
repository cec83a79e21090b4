"""``alpr bootstrap`` publishes the rule files of ``ALPR_RULES__DIR``, if it is set."""

from __future__ import annotations

from agents.alerting.rule_topic import ensure_rule_topic, publish_rules
from config.settings import Settings, get_settings
from notify.rule_urls import url_problems
from ops.bootstrap import bootstrap_step
from rules.loader import load_rules


@bootstrap_step("alert rules", order=60)
async def publish_rule_dir(settings: Settings) -> str:
    rules = get_settings().rules
    await ensure_rule_topic(settings.kafka.bootstrap_servers, rules.topic)
    if rules.dir is None:
        return f"topic {rules.topic} present; no ALPR_RULES__DIR to publish"
    result = load_rules([rules.dir])
    errors = [
        *map(str, result.errors),
        *await url_problems(result.rules, settings.notify.allow_networks),
    ]
    if errors:
        raise ValueError("rule files have errors:\n" + "\n".join(errors))
    # Not pruned: rules made since through the API or the watch list pages stay.
    report = await publish_rules(
        settings.kafka.bootstrap_servers, rules.topic, result.rules, False, by="alpr bootstrap"
    )
    return ", ".join(f"{k}={len(v)}" for k, v in report.items())
