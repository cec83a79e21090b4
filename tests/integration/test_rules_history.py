"""Rule version history on a real broker: every published change is kept, in order, and
``alpr rules history NAME`` lists it as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from agents.alerting.rule_topic import history_topic, publish_rules, read_history, read_rule_topic
from config.settings import Settings
from rules.model import WatchlistRule
from rules.ruleset import decode_rule, rule_version
from tests.integration.conftest import require_port

ROOT = Path(__file__).resolve().parents[2]


async def _drop_rule_topics(bootstrap: str, topic: str) -> None:
    """Delete a test's rule topic and its history topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic, history_topic(topic)])
    finally:
        await admin.close()


async def test_every_published_version_is_kept_and_listed(settings: Settings, unique: str) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    require_port(bootstrap, "Kafka")
    topic = f"test.{unique}.rules"
    first = WatchlistRule(type="watchlist", name="stolen", plates=["AB12CDE"])
    second = first.model_copy(update={"severity": "critical", "plates": ["AB12CDE", "XY99ZZZ"]})
    try:
        await publish_rules(bootstrap, topic, [first], prune=True)
        await publish_rules(bootstrap, topic, [second], prune=True, by="ops@site (api key)")
        await publish_rules(bootstrap, topic, [second], prune=True)  # unchanged: no version
        await publish_rules(bootstrap, topic, [], prune=True)  # removed
        versions = await read_history(bootstrap, topic, "stolen")
        assert await read_rule_topic(bootstrap, topic) == {}  # compacted topic: only the last
        listed = subprocess.run(
            [sys.executable, "-m", "faust", "-A", "alpr", "rules", "history", "stolen"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env={**os.environ, "ALPR_RULES__TOPIC": topic},
        )  # fmt: skip
    finally:
        await _drop_rule_topics(bootstrap, topic)
    assert [None if v.value is None else decode_rule(v.value)[1] for v in versions] == [
        rule_version(first), rule_version(second), None
    ]  # fmt: skip
    assert [v.published for v in versions] == sorted(v.published for v in versions)
    assert [v.by for v in versions] == [None, "ops@site (api key)", None]
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert rule_version(first) in lines[0] and "warning" in lines[0]
    assert rule_version(second) in lines[1] and "critical" in lines[1]
    assert lines[1].endswith("by ops@site (api key)")
    assert lines[2].endswith("removed") and lines[3] == "3 versions of stolen"


async def test_publish_keeps_rules_not_in_the_files_unless_pruned_and_names_them(
    settings: Settings, unique: str, tmp_path: Path
) -> None:
    """A watch list made through the console is not lost to the next `alpr rules publish`."""
    bootstrap = settings.kafka.bootstrap_servers
    require_port(bootstrap, "Kafka")
    topic = f"test.{unique}.rules"
    made_elsewhere = WatchlistRule(type="watchlist", name="console-list", plates=["AB12CDE"])
    (tmp_path / "site.yaml").write_text(
        "rules:\n  - name: from-file\n    type: watchlist\n    plates: [XY99ZZZ]\n",
        encoding="utf-8",
    )

    def publish(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "faust", "-A", "alpr", "rules", "publish", *extra,
             str(tmp_path / "site.yaml")],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env={**os.environ, "ALPR_RULES__TOPIC": topic},
        )  # fmt: skip

    try:
        await publish_rules(bootstrap, topic, [made_elsewhere], prune=False)
        kept = publish()
        after_default = set(await read_rule_topic(bootstrap, topic))
        pruned = publish("--prune")
        after_prune = set(await read_rule_topic(bootstrap, topic))
    finally:
        await _drop_rule_topics(bootstrap, topic)
    assert kept.returncode == 0, kept.stderr
    assert after_default == {"console-list", "from-file"}
    assert "kept, not in FILES (--prune removes them): console-list" in kept.stdout
    assert pruned.returncode == 0, pruned.stderr
    assert after_prune == {"from-file"}
    assert "removed: console-list" in pruned.stdout
