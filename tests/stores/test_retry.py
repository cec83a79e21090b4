"""Backoff, retrying until done, isolating refused rows, and sorting bulk item results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from stores.es_writer import classify
from stores.isolating import IsolatingWriter
from streams.retry import Backoff


async def _no_sleep(_: float) -> None:
    return None


class BadRow(Exception):
    pass


async def test_refused_rows_are_isolated_and_the_rest_stored() -> None:
    stored: list[int] = []

    async def write(items: Sequence[int]) -> int:
        if any(item % 7 == 3 for item in items):
            raise BadRow(f"cannot hold {[i for i in items if i % 7 == 3]}")
        stored.extend(items)
        return len(items)

    letters: list[tuple[Any, str]] = []

    async def dead_letter(event: Any, message: str) -> None:
        letters.append((event, message))

    writer: IsolatingWriter[int] = IsolatingWriter(
        "store", write, lambda e: False, (BadRow,), dead_letter, Backoff()
    )
    pairs = [(f"event-{n}", n) for n in range(40)]
    assert await writer.write(pairs) == 34
    assert sorted(stored) == [n for n in range(40) if n % 7 != 3]
    assert [event for event, _ in letters] == [f"event-{n}" for n in range(40) if n % 7 == 3]
    assert "cannot hold [3]" in letters[0][1]


def test_bulk_items_are_sorted_by_what_to_do_next() -> None:
    items: list[dict[str, Any]] = [
        {"create": {"status": 201}},
        {"create": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}},
        {"create": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}},
        {"create": {"status": 400, "error": {"type": "document_parsing_exception",
                                              "reason": "bad lat"}}},
        {"create": {"status": 503, "error": {"type": "unavailable_shards_exception"}}},
        {"create": {"status": 404, "error": {"type": "index_not_found_exception"}}},
    ]  # fmt: skip
    outcome = classify(items)
    assert (outcome.created, outcome.existing) == (1, 1)
    assert outcome.retry == [2, 4]
    assert outcome.refused == [(3, "400 document_parsing_exception: bad lat")]
    assert [p for p, _ in outcome.doubtful] == [5]


class _Response:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.body = {"errors": True, "items": items}


class _FlakyBulk:
    """Answers 429 to each document the first time, 404 always to ``never``, else 201."""

    def __init__(self, never: str) -> None:
        self.never = never
        self.seen: set[str] = set()
        self.requests = 0

    async def bulk(self, operations: list[dict[str, Any]], filter_path: str = "") -> _Response:
        assert "items.*.status" in filter_path  # the writer reads nothing else of the answer
        self.requests += 1
        items = []
        for action in operations[::2]:
            doc_id = action["create"]["_id"]
            if doc_id == self.never:
                status = 404
            elif doc_id not in self.seen:
                self.seen.add(doc_id)
                status = 429
            else:
                status = 201
            items.append({"create": {"_id": doc_id, "status": status}})
        return _Response(items)


async def test_busy_items_are_retried_and_doubtful_ones_given_up_after_attempts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from stores.es_writer import Doc, EsReadWriter

    monkeypatch.setattr(asyncio, "sleep", _no_sleep)
    client = _FlakyBulk(never="d2")
    writer = EsReadWriter(client, Backoff(), item_attempts=3)  # type: ignore[arg-type]
    docs = [Doc("i", f"d{n}", {"n": n}) for n in range(5)]
    refused: list[tuple[int, str]] = []

    async def on_refused(position: int, reason: str) -> None:
        refused.append((position, reason))

    assert await writer.write(docs, on_refused) == 4
    assert [p for p, _ in refused] == [2]
    assert client.requests == 3
