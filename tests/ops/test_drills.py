"""``alpr drill``'s pure parts: what each drill sends, how a drill's counts become its row,
and which drills run. (The drills themselves: ``tests/integration/test_drill.py``.)"""

from __future__ import annotations

from collections import Counter

from ops.drills.catalog import DrillContext
from ops.drills.cli import chosen, table
from ops.drills.index import DRILLS
from ops.drills.runner import _result
from ops.drills.stack import Sent
from ops.drills.workload import BAD_KINDS, Workload, bad_events, mixed, valid_events
from streams.codec import AvroSchema, decode
from tests.support.streams import memory_schema_cache

SUBJECT = "drill.raw-value"


def test_valid_events_have_ids_of_their_own_and_decode() -> None:
    cache = memory_schema_cache()
    first, second = (valid_events(cache, SUBJECT, 50) for _ in range(2))
    assert len(set(first.valid_ids)) == 50 and not set(first.valid_ids) & set(second.valid_ids)
    key, value = first.messages[0]
    assert decode(value, AvroSchema.named("PlateEvent"), cache)["event_id"] == key.decode()


def test_watched_plates_are_spread_over_the_events() -> None:
    cache = memory_schema_cache()
    work = valid_events(cache, SUBJECT, 100, plates=["AA11AAA", "BB22BBB"])
    schema = AvroSchema.named("PlateEvent")
    plates = [decode(v, schema, cache)["plate_text"] for _, v in work.messages]
    assert plates[0] == "AA11AAA" and plates[50] == "BB22BBB"
    assert plates.count("AA11AAA") == plates.count("BB22BBB") == 1


def test_bad_events_give_every_kind_its_reason() -> None:
    work = bad_events(memory_schema_cache(), SUBJECT, each=3)
    assert len(work.messages) == len(work.bad_reasons) == 3 * len(BAD_KINDS)
    assert Counter(work.bad_reasons.values())["invalid_field"] == 3 * 4
    both = mixed(valid_events(memory_schema_cache(), SUBJECT, 10), work)
    assert len(both.messages) == 10 + 3 * len(BAD_KINDS) and len(both.valid_ids) == 10


def _context(work: Workload) -> DrillContext:
    return DrillContext(stack=None, run=None, work=work, outage_s=1.0)  # type: ignore[arg-type]


def test_a_row_counts_lost_duplicated_and_dead_lettered_by_id() -> None:
    work = Workload(valid_ids=["a", "b", "c"], bad_reasons={"x": "wrong_magic", "y": "truncated"})
    ctx = _context(work)
    ctx.sent = Sent(acked={"a", "b", "c", "x", "y"})
    stores = {
        "detected": Counter({"a": 1, "b": 2, "c": 1}),
        "postgres": Counter({"a": 1, "b": 1}),
        "elasticsearch": Counter({"a": 1, "b": 1, "c": 1}),
    }
    letters = [{"key": b"x", "reason": "wrong_magic"}, {"key": b"b", "reason": "duplicate"}]
    row = _result("drill", ctx, ["a", "b", "c"], work.bad_reasons, stores, letters, [])
    assert (row.sent, row.lost, row.duplicated, row.dead_lettered) == (5, 2, 1, 1)
    assert row.arrived == {"detected": 3, "postgres": 2, "elasticsearch": 3}
    assert row.reasons == {"wrong_magic": 1, "duplicate": 1} and not row.ok
    assert set(row.lost_examples) == {"c", "y"}
    assert "drill" in table([row]).splitlines()[1]


def test_the_default_drills_leave_out_the_full_ones() -> None:
    default = {d.name for d in chosen((), full=False)}
    assert default == {n for n, d in DRILLS.items() if not d.full_only}
    assert {"broker-kill", "slow-webhook"} <= {d.name for d in chosen((), full=True)} - default
    assert [d.name for d in chosen(("worker-kill",), full=False)] == ["worker-kill"]
