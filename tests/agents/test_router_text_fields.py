"""Every text field of a plate event under one rule (issue 17, finding 4), and a property
test of the router's handling of anything at all (Hypothesis): random field values and random
bytes never crash it, and each message ends as a valid read or a dead letter with a reason.

Before the fix a NUL byte in ``camera_id`` passed the router, reached Elasticsearch and was
refused by PostgreSQL.
"""

from __future__ import annotations

import asyncio
import string
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import tests.agents.test_route_raw_reads as routing
from config.router import RouterSettings
from streams.codec import AvroSchema, SchemaCache, decode
from streams.failures import Reason
from streams.text import PLATE_EVENT_TEXT_LIMITS, plate_event_text_fault, text_fault
from tests.agents.conftest import Sent
from tests.support.streams import encode_plate_event, memory_schema_cache, plate_event_datum

pytestmark = pytest.mark.usefixtures("router_settings")
harness = routing.harness  # the fixture, shared

EVENT = AvroSchema.named("PlateEvent")
READ = AvroSchema.named("PlateRead")
REASONS = {reason.value for reason in Reason}
OPTIONAL = {
    "region", "vehicle_type", "plate_crop_key", "vehicle_image_key", "supersedes",
    "vehicle_colour",
}  # fmt: skip


def test_text_fault_names_what_is_wrong_without_echoing_the_value() -> None:
    assert text_fault("cam-1", 10) is None
    assert text_fault("Café Ünter-Straße 北", 20) is None
    assert text_fault("cam\x00-1", 10) == "has the control character U+0000 at position 3"
    assert text_fault("a\nb", 10) == "has the control character U+000A at position 1"
    assert text_fault("\x85", 10) == "has the control character U+0085 at position 0"
    assert text_fault("x\u2028", 10) == "has the control character U+2028 at position 1"
    assert text_fault("x" * 11, 10) == "has 11 characters, more than 10"


@pytest.mark.parametrize("field", sorted(PLATE_EVENT_TEXT_LIMITS))
@pytest.mark.parametrize("bad", ["nul", "control", "long"])
async def test_every_text_field_refuses_control_characters_and_overlong_values(
    harness: routing.Harness, schema_cache: SchemaCache, sent: Any, field: str, bad: str
) -> None:
    value = {
        "nul": "abc\x00def",
        "control": "abc\x1bdef",
        "long": "a" * (PLATE_EVENT_TEXT_LIMITS[field] + 1),
    }[bad]
    await routing.route(harness, encode_plate_event(schema_cache, **{field: value}))
    letter = routing.only_dead_letter(sent)
    assert (letter.reason, letter.stage) == ("invalid_field", "validate")
    assert letter.message.startswith(field + " "), letter.message
    assert "\x00" not in letter.message and "\x1b" not in letter.message
    if field != "event_id":
        assert letter.event_id is not None  # the letter still says which event it was


async def test_a_nul_in_camera_id_is_dead_lettered(
    harness: routing.Harness, schema_cache: SchemaCache, sent: Any
) -> None:
    await routing.route(harness, encode_plate_event(schema_cache, camera_id="cam-1\x00"))
    letter = routing.only_dead_letter(sent)
    assert letter.message == "camera_id has the control character U+0000 at position 5"


async def test_model_versions_are_held_to_the_rule_too(
    harness: routing.Harness, schema_cache: SchemaCache, sent: Any
) -> None:
    await routing.route(harness, encode_plate_event(schema_cache, model_versions={"ocr": "v1\x00"}))
    assert routing.only_dead_letter(sent).message.startswith("model_versions['ocr'] has")


# ---- the property: anything in, a read or a dead letter out --------------------------------

_printable = st.text(string.ascii_letters + string.digits + "-_. ", min_size=1, max_size=40)
#: Any text fastavro can encode (UTF-8: no lone surrogates), control characters included.
_utf8 = st.characters(exclude_categories=["Cs"])
_any_text = st.one_of(
    _printable,
    st.text(_utf8, max_size=80),
    st.text(_utf8, min_size=100, max_size=1100),
)
_floats = st.floats(allow_nan=True, allow_infinity=True, width=32)


_CHANGES = (
    *sorted(PLATE_EVENT_TEXT_LIMITS),
    "model_versions",
    "confidences",
    "numbers",
    "location",
)


@st.composite
def event_datums(draw: st.DrawFn) -> dict[str, Any]:
    """A valid PlateEvent datum with up to two of its fields (or groups) set to anything."""
    datum = plate_event_datum()
    for change in draw(st.lists(st.sampled_from(_CHANGES), max_size=2, unique=True)):
        if change in PLATE_EVENT_TEXT_LIMITS:
            nullable = change in OPTIONAL
            datum[change] = draw(st.none() | _any_text) if nullable else draw(_any_text)
        elif change == "model_versions":
            datum[change] = draw(st.dictionaries(_any_text, _any_text, max_size=4))
        elif change == "confidences":
            datum["plate_confidence"] = draw(_floats)
            datum["char_confidences"] = draw(st.lists(_floats, max_size=4))
        elif change == "numbers":
            datum["frames_agreed"] = draw(st.integers(-(2**31), 2**31 - 1))
            datum["track_id"] = draw(st.integers(-(2**63), 2**63 - 1))
            datum["plate_box"] = {k: draw(st.integers(-(2**31), 2**31 - 1)) for k in "xy"} | {
                "width": draw(st.integers(-5, 5000)),
                "height": draw(st.integers(-5, 5000)),
            }
        else:
            datum["location"] = {"lat": draw(st.floats()), "lon": draw(st.floats())}
    return datum


_messages = st.one_of(
    event_datums(),
    st.binary(max_size=300),
    st.binary(max_size=300).map(lambda body: b"\x00" + struct.pack(">I", 1) + body),
)


def _route(messages: list[bytes | dict[str, Any]]) -> tuple[Sent, SchemaCache]:
    """Route ``messages`` (datums are encoded first) as one batch of a fresh router."""
    cache = memory_schema_cache()
    sent = Sent()
    harness = routing.Harness(RouterSettings(), cache, sent)  # type: ignore[call-arg]
    subject = "alpr.plates.raw-value"
    cache.id_for(subject, EVENT)  # id 1, the id the random bodies claim
    payloads = [
        m if isinstance(m, bytes) else encode_plate_event(cache, subject, **m) for m in messages
    ]
    records = [harness.record(p, key=b"k%d" % i) for i, p in enumerate(payloads)]
    asyncio.run(asyncio.wait_for(harness.route(*records), timeout=30))
    return sent, cache


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(_messages, min_size=1, max_size=5))
def test_anything_in_ends_as_a_valid_read_or_a_dead_letter_with_a_reason(
    messages: list[bytes | dict[str, Any]],
) -> None:
    sent, cache = _route(messages)
    # Each message exactly once: a read or a dead letter (never neither, never an exception).
    assert len(sent.reads) + len(sent.dead_letters) == len(messages)
    event(f"{len(sent.reads)} read(s)")
    for _, letter in sent.dead_letters:
        event(letter.reason)
        assert letter.reason in REASONS and letter.stage and letter.message
        assert text_fault(letter.message, 100_000) is None, letter.message
    for key, value in sent.reads:
        read = decode(value, READ, cache)
        assert plate_event_text_fault(read) is None
        assert key == read["plate"] and key.isalnum() and key.isupper() | key.isdigit()


def test_every_read_that_comes_out_keeps_the_text_rule() -> None:
    """Reads decoded back: each text field printable and within its limit."""
    cache = memory_schema_cache()
    sent = Sent()
    harness = routing.Harness(RouterSettings(), cache, sent)  # type: ignore[call-arg]
    good = encode_plate_event(cache, region="GB", camera_id="Nord-Tor 3 (Ausfahrt)")
    asyncio.run(harness.route(harness.record(good)))
    ((_, value),) = sent.reads
    assert plate_event_text_fault(decode(value, READ, cache)) is None
