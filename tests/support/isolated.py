"""Names and worker settings of one isolated run (a test, a benchmark) on a shared broker.

Every run gets its own topic prefix and Faust app id, so runs side by side never share a
topic, a consumer group (the app id names Faust's group and those of the batch consumers:
``<app id>-router``, ``<app id>-rule-feed``...), a changelog or a registry subject; and
:meth:`IsolatedRun.drop` removes all of them afterwards.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient

from streams.registry import RegistryError, SchemaRegistryClient

#: The contract's topics a worker is told about through ``ALPR_TOPICS__*``.
CORE_TOPICS = ("raw", "detected", "dlq", "cameras", "corrected")


@dataclass(frozen=True)
class IsolatedRun:
    """``kind`` names what runs (``test``, ``bench``); ``tag`` makes it unique."""

    kind: str = "test"
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    @property
    def prefix(self) -> str:
        return f"{self.kind}.{self.tag}."

    @property
    def app_id(self) -> str:
        return f"alpr-{self.kind}-{self.tag}"

    def topic(self, name: str) -> str:
        return self.prefix + name

    def env(self, partitions: int | None = None, alerts: bool = False) -> dict[str, str]:
        """``ALPR_*`` settings of a worker on this run's topics; ``alerts`` adds the rule and
        alert topics and lets notifications reach loopback receivers."""
        env = {
            "ALPR_FAUST__APP_ID": self.app_id,
            **{f"ALPR_TOPICS__{name.upper()}": self.topic(name) for name in CORE_TOPICS},
        }
        if partitions is not None:
            env["ALPR_KAFKA__PARTITIONS"] = str(partitions)
        if alerts:
            env |= {
                "ALPR_RULES__TOPIC": self.topic("rules"),
                "ALPR_RULES__ALERTS_TOPIC": self.topic("alerts"),
                "ALPR_NOTIFY__ALLOW_NETWORKS": '["127.0.0.0/8"]',
            }
        return env

    async def create_worker_topics(self, bootstrap: str, partitions: int) -> None:
        """The run's raw, detected, dead-letter and (compacted) camera topics."""
        from tests.support.streams import create_topics

        await create_topics(
            bootstrap,
            [self.topic(name) for name in ("raw", "detected", "dlq", "cameras")],
            partitions=partitions,
            configs={self.topic("cameras"): {"cleanup.policy": "compact"}},
        )

    def owns(self, topic: str) -> bool:
        return topic.startswith((self.prefix, self.app_id))

    async def drop(self, bootstrap: str, registry_url: str | None = None) -> list[str]:
        """Delete the run's topics (its own and the worker's changelogs) and their value
        subjects in the registry; returns the topics deleted."""
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            doomed = [t for t in await admin.list_topics() if self.owns(t)]
            if doomed:
                await admin.delete_topics(doomed)
        finally:
            await admin.close()
        if registry_url is not None:
            registry = SchemaRegistryClient(registry_url)
            for topic in doomed:
                try:
                    registry.delete_subject(f"{topic}-value", permanent=True)
                except RegistryError:  # most topics have no subject
                    pass
        return doomed
