"""Query parameter checks and the store-down classification, without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import elastic_transport
import pytest
from aiokafka.errors import KafkaConnectionError

from web.api import params
from web.errors import ApiError, StoreUnavailable, store_down, unavailable


def code_of(call: object) -> str:
    with pytest.raises(ApiError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.status == 400 and caught.value.message
    return caught.value.code


@pytest.mark.parametrize("raw", ["0", "201", "-1", "1e3", "ten", "٣", "99999999999999999999"])
def test_limits_outside_one_to_the_maximum_are_refused(raw: str) -> None:
    assert code_of(lambda: params.limit({"limit": raw}, 20, 200)) == "bad_limit"


def test_limits_default_and_accept_the_bounds() -> None:
    assert params.limit({}, 20, 200) == 20
    assert params.limit({"limit": "1"}, 20, 200) == 1
    assert params.limit({"limit": "200"}, 20, 200) == 200


@pytest.mark.parametrize("raw", ["A", "AB$", "' OR 1=1 --", "A" * 41, "ABCDEFGHIJKLM", "<b>"])
def test_plates_that_cannot_be_plates_are_refused(raw: str) -> None:
    assert code_of(lambda: params.plate(raw)) == "bad_plate"


def test_plates_are_normalised() -> None:
    assert params.plate("ab-12 cde") == "AB12CDE"


def test_times_are_iso_8601_and_compared_in_utc() -> None:
    moment = params.timestamp({"since": "2026-01-31T10:00:00+02:00"}, "since")
    assert moment == datetime(2026, 1, 31, 8, tzinfo=UTC) and moment.tzinfo is UTC
    assert params.timestamp({"since": "2026-01-31T08:00:00"}, "since") == moment
    assert code_of(lambda: params.timestamp({"since": "yesterday"}, "since")) == "bad_since"
    far = {"until": "0001-01-01T00:00:00+23:00"}
    assert code_of(lambda: params.timestamp(far, "until")) == "bad_until"


@pytest.mark.parametrize("raw", ["1.5", "-0.1", "nan", "inf", "x"])
def test_fractions_are_between_zero_and_one(raw: str) -> None:
    assert code_of(lambda: params.fraction({"min_confidence": raw}, "min_confidence"))


def test_text_parameters_are_printable_and_bounded() -> None:
    assert params.text({"camera": " cam-1 "}, "camera") == "cam-1"
    assert code_of(lambda: params.text({"camera": "a\x00b"}, "camera")) == "bad_camera"
    assert code_of(lambda: params.text({"camera": "a" * 501}, "camera")) == "bad_camera"
    assert code_of(lambda: params.text({}, "q", required=True)) == "missing_q"


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        StoreUnavailable("PostgreSQL: refused"),
        asyncpg.CannotConnectNowError("starting up"),
        asyncpg.InterfaceError("connection is closed"),
        KafkaConnectionError(),
        elastic_transport.ConnectionError("refused"),
    ],
)
def test_unreachable_stores_are_503(exc: Exception) -> None:
    assert store_down(exc)
    assert unavailable(exc).status == 503


@pytest.mark.parametrize("exc", [ValueError("bug"), KeyError("x"), asyncpg.InterfaceError("x")])
def test_bugs_are_not_mistaken_for_outages(exc: Exception) -> None:
    assert not store_down(exc)
