"""``follow_rule_set``: every worker reads the whole compacted rule topic and follows it.

The topic is read with a consumer outside the group (no partitions to share), so every
worker holds every rule and a published change applies everywhere without a restart.
``RULE_BOOK`` is configuration that the topic can always rebuild, not stream state.
"""

from __future__ import annotations

import asyncio
import logging

from agents.alerting.rule_topic import catch_up, follow, new_consumer
from agents.alerting.topics import alerts, camera_ticks, rule_updates
from alpr import app
from config.settings import get_settings
from ops.heap import Settler
from rules.ruleset import RuleBook

log = logging.getLogger(__name__)

#: The rules this worker evaluates.
RULE_BOOK = RuleBook()

#: Exempts the loaded rule set (and the rest of the heap) from full collections.
HEAP = Settler(get_settings().rules.freeze_heap)

#: Seconds between attempts to reach the rule topic while Kafka is unavailable.
RETRY_S = 2.0


def apply_rule_message(name: str, value: bytes | None) -> None:
    """Apply one message; a message that does not decode is logged and skipped."""
    try:
        RULE_BOOK.apply(name, value)
    except Exception as exc:
        log.error("rule %r on the rule topic does not decode; kept the previous one: %r", name, exc)
        return
    log.info("rule %r %s", name, "updated" if value else "removed")
    if RULE_BOOK.ready.is_set():
        HEAP.soon()


@app.task
async def follow_rule_set() -> None:
    """Load the rule set, mark it ready, then apply changes as they are published."""
    topic = get_settings().rules.topic
    while True:
        try:
            for declared in (rule_updates, alerts, camera_ticks):
                await declared.maybe_declare()
        except Exception as exc:
            log.warning("could not declare the alert topics yet: %r", exc)
        consumer = new_consumer(get_settings().kafka.bootstrap_servers)
        try:
            await catch_up(consumer, topic, apply_rule_message)
            RULE_BOOK.ready.set()
            log.info("rule set loaded: %d rules", len(RULE_BOOK.rules))
            HEAP.now()
            await follow(consumer, apply_rule_message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("rule topic %s unavailable, retrying: %r", topic, exc)
            await asyncio.sleep(RETRY_S)
        finally:
            await consumer.stop()
