"""``alpr bootstrap``'s topic step creates every Faust table's changelog topic, compacted,
with the partitions Faust gives it, so that they exist before any worker starts.

Before, a worker created its tables' changelogs itself at start, and its group could be
assigned before the new topic was in the cluster's metadata: Faust's assignor failed on the
global table's missing changelog (``KeyError`` behind "Ignoring missing topic"), aiokafka
paused the group until Faust took the error, which it never does, and the worker waited for
ever (issue 17's registry-down drill).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from aiokafka import AIOKafkaClient
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from config.settings import Settings
from ops.faust_fixes import unserved
from ops.worker import ROOT
from tests.integration.conftest import require_port
from tests.support.isolated import IsolatedRun
from tests.support.streams import delete_topics

PARTITIONS = 3


def table_names() -> dict[str, int | None]:
    """Every table of the app (autodiscovered) and the partitions it asks for, if any."""
    from alpr import app

    app.discover()
    return {table.name: table.partitions for table in app.tables.values()}


async def described(bootstrap: str, names: list[str]) -> dict[str, tuple[int, str]]:
    """(partitions, cleanup.policy) of each of ``names`` that exists."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        present = [name for name in names if name in set(await admin.list_topics())]
        counts = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(present)}
        resources = [
            ConfigResource(ConfigResourceType.TOPIC, name, {"cleanup.policy": None})
            for name in present
        ]
        policies: dict[str, str] = {}
        for response in await admin.describe_configs(resources) if present else []:
            for _code, _message, _type, name, entries in response.resources:
                policies[name] = next(e[1] for e in entries if e[0] == "cleanup.policy")
    finally:
        await admin.close()
    return {name: (counts[name], policies[name]) for name in present}


async def test_bootstrap_creates_every_tables_changelog(settings: Settings) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    require_port(bootstrap, "Kafka")
    app_id = f"alpr-test-bootstrap-{uuid.uuid4().hex[:8]}"
    tables = table_names()
    assert "cameras_by_id" in tables, tables
    changelogs = {f"{app_id}-{name}-changelog": name for name in tables}
    env = {**os.environ, "ALPR_FAUST__APP_ID": app_id, "ALPR_KAFKA__PARTITIONS": str(PARTITIONS)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "faust", "-A", "alpr", "bootstrap", "--only", "kafka topics"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        found = await described(bootstrap, list(changelogs))
        assert set(found) == set(changelogs), done.stdout
        for topic, name in changelogs.items():
            partitions, policy = found[topic]
            assert partitions == (tables[name] or PARTITIONS), topic
            assert "compact" in policy, (topic, policy)
    finally:
        await delete_topics(bootstrap, list(changelogs))


async def test_bootstrap_creates_the_rule_feeds_plate_state_changelog(settings: Settings) -> None:
    """Not a Faust table's: the rule feed's (batch runtime), one partition per partition of
    the detected topic, compacted."""
    bootstrap = settings.kafka.bootstrap_servers
    require_port(bootstrap, "Kafka")
    run = IsolatedRun()
    changelog = f"{run.app_id}-rule_state_by_plate-changelog"
    env = {**os.environ, **run.env(partitions=PARTITIONS)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "faust", "-A", "alpr", "bootstrap", "--only", "kafka topics",
             "--only", "rule state changelog"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        found = await described(bootstrap, [changelog, run.topic("detected")])
        assert found[changelog][0] == found[run.topic("detected")][0] == PARTITIONS, found
        assert "compact" in found[changelog][1], found
    finally:
        await run.drop(bootstrap)


async def test_a_topic_the_worker_declares_is_served_when_the_declaration_returns(
    settings: Settings,
) -> None:
    """What the worker does for its tables' changelogs before it subscribes to them."""
    import faust

    import alpr  # noqa: F401  (applies the project's Faust fixes, the declaration's among them)

    bootstrap = settings.kafka.bootstrap_servers
    require_port(bootstrap, "Kafka")
    name = f"alpr-test-declared-{uuid.uuid4().hex[:8]}-changelog"
    # An app of its own: the project's app object keeps the event loop of the first test
    # that started it, closed by the time this one runs in the same process.
    app = faust.App(
        f"alpr-test-declare-{uuid.uuid4().hex[:8]}",
        broker=settings.kafka.broker,
        autodiscover=False,
        topic_replication_factor=settings.kafka.replication_factor,
    )
    topic = app.topic(name, partitions=PARTITIONS, internal=True, compacting=True)
    await app.maybe_start_producer()
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        await topic.declare()
        assert unserved(await client.fetch_all_metadata(), [name]) == []
    finally:
        await client.close()
        await app.producer.stop()
        await delete_topics(bootstrap, [name])
