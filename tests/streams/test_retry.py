"""The one backoff policy: pauses, jitter, bounds, and retrying until done or abandoned."""

from __future__ import annotations

import random

import pytest

from streams.failures import Unavailable
from streams.outages import OUTAGES, UP, component_of
from streams.retry import Abandoned, Backoff, retry_until_done


async def _no_sleep(_: float) -> None:
    return None


def test_backoff_doubles_up_to_the_cap() -> None:
    pauses = Backoff(first_s=0.5, max_s=3.0).pauses()
    assert [next(pauses) for _ in range(6)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


@pytest.mark.parametrize(("first_s", "max_s", "factor"), [(-1, 1, 2), (2, 1, 2), (1, 2, 0.5)])
def test_backoff_refuses_bad_bounds(first_s: float, max_s: float, factor: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        Backoff(first_s, max_s, factor)


async def test_transient_errors_are_waited_out_and_others_raised() -> None:
    calls = []

    async def attempt() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise ConnectionError("down")
        return "done"

    retried: list[BaseException] = []
    result = await retry_until_done(
        "write", attempt, lambda e: isinstance(e, ConnectionError), Backoff(),
        retried.append, sleep=_no_sleep,
    )  # fmt: skip
    assert result == "done" and len(calls) == 4 and len(retried) == 3

    async def broken() -> str:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await retry_until_done("write", broken, lambda e: False, Backoff(), sleep=_no_sleep)


async def test_a_stopping_process_abandons_the_retry() -> None:
    stopping = False

    async def attempt() -> str:
        nonlocal stopping
        stopping = True
        raise ConnectionError("down")

    backoff = Backoff(stopping=lambda: stopping)
    with pytest.raises(Abandoned):
        await retry_until_done("write", attempt, lambda e: True, backoff, sleep=_no_sleep)


def test_backoff_grows_to_its_cap_with_bounded_jitter() -> None:
    backoff = Backoff(first_s=1.0, max_s=8.0, factor=2.0, jitter=0.25)
    rng = random.Random(1)
    delays = [backoff.delay(attempt, rng) for attempt in range(6)]
    for attempt, delay in enumerate(delays):
        base = min(8.0, 2.0**attempt)
        assert 0.75 * base <= delay <= 1.25 * base
    with pytest.raises(ValueError, match="first_s"):
        Backoff(first_s=-1.0)


def test_delay_of_each_attempt_doubles_up_to_the_cap() -> None:
    assert [Backoff(0.5, 3).delay(n) for n in range(5)] == [0.5, 1, 2, 3, 3]


async def test_the_component_waited_for_is_reported_down_until_an_attempt_succeeds() -> None:
    seen: list[bool] = []
    failures = iter([Unavailable("registry", "refused"), ConnectionError("kafka away"), None])

    async def attempt() -> str:
        seen.append(OUTAGES.is_down("registry"))
        failure = next(failures)
        if failure is not None:
            raise failure
        return "done"

    def transient(exc: BaseException) -> bool:
        return isinstance(exc, Unavailable | ConnectionError)

    assert (
        await retry_until_done(
            "work", attempt, transient, Backoff(0, 0), sleep=_no_sleep, component="kafka"
        )
        == "done"
    )
    assert seen == [False, True, True]  # the Unavailable named its component
    assert not OUTAGES.is_down("registry") and not OUTAGES.is_down("kafka")
    assert UP.labels("registry")._value.get() == 1


async def test_a_component_is_no_longer_waited_for_once_the_work_is_given_up() -> None:
    async def attempt() -> None:
        raise ConnectionError("store away")

    backoff = Backoff(0, 0, stopping=lambda: OUTAGES.is_down("store"))
    with pytest.raises(Abandoned):
        await retry_until_done(
            "work", attempt, lambda _e: True, backoff, sleep=_no_sleep, component="store"
        )
    assert "store" not in OUTAGES.status()


@pytest.mark.parametrize(
    ("what", "error", "component"),
    [
        ("PostgreSQL write", OSError("refused"), "postgres"),
        ("Elasticsearch bulk", TimeoutError(), "elasticsearch"),
        ("alert projection", ConnectionError(), "other"),
    ],
)
async def test_a_store_waited_for_is_found_from_the_retry(
    what: str, error: Exception, component: str
) -> None:
    down_while_waiting: list[list[str]] = []
    failures = iter([error, None])

    async def attempt() -> None:
        if (failure := next(failures)) is not None:
            raise failure

    async def sleep(_: float) -> None:
        down_while_waiting.append(list(OUTAGES.status()))

    await retry_until_done(what, attempt, lambda _e: True, Backoff(0, 0), sleep=sleep)
    assert down_while_waiting == [[component]]
    assert component not in OUTAGES.status()


def test_component_of_names_the_store_from_the_error_module() -> None:
    class PgError(Exception):
        pass

    PgError.__module__ = "asyncpg.exceptions"
    assert component_of("alert projection", PgError()) == "postgres"
