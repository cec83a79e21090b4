"""``alpr bootstrap`` creates the plate rule state's changelog and publishes the rule files of
``ALPR_RULES__DIR``, if it is set."""

from __future__ import annotations

from agents.alerting.feed import changelog_topic
from agents.alerting.rule_topic import ensure_rule_topic, publish_rules
from agents.topics import plates_detected
from config.settings import Settings, get_settings
from notify.rule_urls import url_problems
from ops.bootstrap import bootstrap_step
from rules.loader import load_rules
from streams.changelog import ensure_changelog


@bootstrap_step("rule state changelog", order=15)
async def create_rule_state_changelog(settings: Settings) -> str:
    """The rule feed's plate state changelog (compacted, one partition per partition of the
    detected topic, which the topic step made first); the feed also makes it at start."""
    kafka = settings.kafka
    partitions = await ensure_changelog(
        kafka.bootstrap_servers, plates_detected.get_topic_name(), changelog_topic(),
        kafka.replication_factor,
    )  # fmt: skip
    return f"{changelog_topic()} present ({partitions} partitions, compacted)"


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
