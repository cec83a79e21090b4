"""Running drills and counting what became of every event, by id.

A valid event is *lost* when it is missing from the detected topic, PostgreSQL or
Elasticsearch once the drill is over (waited for up to a bound); a malformed one when no
dead letter carries its key. An event is *duplicated* when a store holds it more than once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ops.drills import tally
from ops.drills.catalog import Drill, DrillContext
from ops.drills.stack import ES_PREFIX, DrillRun, DrillStack

#: How long the stores get to hold every event after the fault, at least and per event.
ARRIVAL_BASE_S = 120.0
ARRIVAL_PER_EVENT_S = 0.005
#: After everything arrived: a duplicate written late would show up in this time.
SETTLE_S = 3.0


@dataclass
class DrillResult:
    """One row of the drills' table."""

    drill: str
    sent: int
    arrived: dict[str, int]
    lost: int
    duplicated: int
    dead_lettered: int
    recover_s: float | None
    crashed: list[str]
    unsent: int = 0
    #: Dead letters by reason (those of valid events included, e.g. a replayed duplicate).
    reasons: dict[str, int] = field(default_factory=dict)
    #: Malformed messages dead-lettered with another reason than the expected one.
    wrong_reason: int = 0
    notes: list[str] = field(default_factory=list)
    lost_examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and not self.crashed

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


async def _stores(stack: DrillStack, run: DrillRun, ids: list[str]) -> dict[str, Counter[str]]:
    layout = stack.layout
    return {
        "detected": await tally.detected_ids(stack.bootstrap, run.topic("detected"), stack.cache),
        "postgres": await tally.postgres_ids(layout.postgres_dsn, ids),
        "elasticsearch": await tally.elasticsearch_ids(layout.url("elasticsearch"), ES_PREFIX, ids),
    }


async def _all_arrived(stack: DrillStack, run: DrillRun, ids: list[str], bad: int) -> bool:
    """Cheap: enough records on the topics, and every id in both stores."""
    layout = stack.layout
    if await tally.topic_total(stack.bootstrap, run.topic("detected")) < len(ids):
        return False
    if await tally.topic_total(stack.bootstrap, run.topic("dlq")) < bad:
        return False
    if len(await tally.postgres_ids(layout.postgres_dsn, ids)) < len(ids):
        return False
    es = await tally.elasticsearch_ids(layout.url("elasticsearch"), ES_PREFIX, ids)
    return len(es) >= len(ids)


async def _wait_arrival(stack: DrillStack, run: DrillRun, ids: list[str], bad: int) -> float | None:
    """The monotonic time every event had arrived; None if they did not in time."""
    deadline = time.monotonic() + ARRIVAL_BASE_S + ARRIVAL_PER_EVENT_S * len(ids)
    while time.monotonic() < deadline:
        if await _all_arrived(stack, run, ids, bad):
            return time.monotonic()
        await asyncio.sleep(1.0)
    return None


async def run_drill(
    stack: DrillStack, drill: Drill, events: int, outage_s: float, say: Callable[[str], None]
) -> DrillResult:
    """One drill on ``stack``: its events, its fault, and what became of every event."""
    run = DrillRun(stack, drill.name)
    await run.create_topics()
    work = drill.workload(stack.cache, f"{run.topic('raw')}-value", events)
    ctx = DrillContext(stack, run, work, outage_s)
    started = time.monotonic()
    say(f"[{drill.name}] {len(work.messages)} messages, worker {run.app_id} ...")
    try:
        recovered = await drill.execute(ctx)
        valid = [i for i in work.valid_ids if i in ctx.sent.acked]
        bad = {k: r for k, r in work.bad_reasons.items() if k in ctx.sent.acked}
        say(f"[{drill.name}] sent, fault over, {time.monotonic() - started:.0f}s in; counting ...")
        arrived_at = await _wait_arrival(stack, run, valid, len(bad))
        await asyncio.sleep(SETTLE_S)
        stores = await _stores(stack, run, valid)
        letters = await tally.dead_letters(stack.bootstrap, run.topic("dlq"), stack.cache)
        crashed = run.crashes() + ctx.crashed
    finally:
        run.stop_workers()
        for service in ctx.down:
            await asyncio.to_thread(stack.private.start, service)
    crashed += [f"{s} is not running" for s in stack.private.services
                if not stack.private.running(s)]  # fmt: skip
    result = _result(drill.name, ctx, valid, bad, stores, letters, crashed)
    if recovered is not None and arrived_at is not None:
        result.recover_s = round(max(0.0, arrived_at - recovered), 1)
    say(f"[{drill.name}] done in {time.monotonic() - started:.0f}s: "
        f"{'ok' if result.ok else 'FAILED'}")  # fmt: skip
    return result


def _result(
    name: str,
    ctx: DrillContext,
    valid: list[str],
    bad: dict[str, str],
    stores: dict[str, Counter[str]],
    letters: list[dict[str, Any]],
    crashed: list[str],
) -> DrillResult:
    by_key: dict[str, list[str]] = {}
    for letter in letters:
        by_key.setdefault(tally.letter_id(letter), []).append(str(letter["reason"]))
    lost = [i for i in valid if any(stores[s][i] == 0 for s in tally.STORES)]
    lost += [k for k in bad if k not in by_key]
    lost += ctx.lost_elsewhere
    duplicated = [i for i in valid if any(stores[s][i] > 1 for s in tally.STORES)]
    wrong = [k for k, reason in bad.items() if k in by_key and reason not in by_key[k]]
    return DrillResult(
        drill=name,
        sent=len(valid) + len(bad),
        arrived={s: sum(1 for i in valid if stores[s][i] > 0) for s in tally.STORES},
        lost=len(lost),
        duplicated=len(duplicated),
        dead_lettered=sum(1 for k in bad if k in by_key),
        recover_s=None,
        crashed=crashed,
        unsent=len(ctx.sent.failed),
        reasons=dict(Counter(str(letter["reason"]) for letter in letters)),
        wrong_reason=len(wrong),
        notes=ctx.notes,
        lost_examples=lost[:5],
    )
