"""The rule feed's plate state (``tables.plate_state``) and the state encoding it shares with
the camera table (``tables.rule_state``): records written by the Faust table before read
back, a batch's writes undone, partitions let go, bad records skipped."""

from __future__ import annotations

from rules.state import PlateHistory, Sighting
from tables.plate_state import PlateStates, decode_plate_key, encode_plate_key
from tables.rule_state import PlateRuleState, decode_state, encode_state

#: A changelog record as the Faust record ``PlateRuleState`` wrote it (before 7 December 2026).
FAUST_WRITTEN = (
    b'{"partition":1,"watermark":1002.0,"sightings":[{"event_id":"ev-0","camera_id":"cam-1",'
    b'"site_id":"site-1","ts":1000.0,"lat":null,"lon":null,"confidence":0.9,"frames_agreed":3,'
    b'"track_id":0},{"event_id":"ev-1","camera_id":"cam-2","site_id":"site-1","ts":1002.0,'
    b'"lat":51.5,"lon":-0.1,"confidence":0.8,"frames_agreed":2,"track_id":7}],'
    b'"fired":{"circling":1002.0},"alerts":["a1"],"written_at":1700000000.5}'
)
#: And one written before the write time was kept.
LEGACY = b'{"partition":0,"watermark":5.0,"sightings":[],"fired":{},"alerts":[]}'


def history() -> PlateHistory:
    past = PlateHistory()
    past.add(Sighting("ev-0", "cam-1", "site-1", 1000.0, confidence=0.9, frames_agreed=3))
    past.add(Sighting("ev-1", "cam-2", "site-1", 1002.0, 51.5, -0.1, 0.8, 2, 7))
    past.fired["circling"] = 1002.0
    past.alerts.append("a1")
    return past


def test_a_state_written_by_the_faust_record_reads_back_whole() -> None:
    state = decode_state(FAUST_WRITTEN)
    assert (state.partition, state.written_at) == (1, 1700000000.5)
    assert state.history() == history()
    assert decode_state(LEGACY) == PlateRuleState(partition=0, watermark=5.0)


def test_a_state_survives_its_encoding() -> None:
    state = PlateRuleState.of(history(), 3)
    assert decode_state(encode_state(state)) == state
    assert state.history() == history() and state.history() is not state.history()


def test_bytes_that_hold_no_state_are_refused() -> None:
    for data in (b"[]", b'{"watermark":1}', b'{"partition":1,"watermark":1,"sightings":[{}]}'):
        try:
            decode_state(data)
        except ValueError:
            continue
        raise AssertionError(f"{data!r} decoded")


def test_keys_are_json_strings_as_the_faust_table_wrote_them() -> None:
    assert encode_plate_key("AB123CD") == b'"AB123CD"'
    assert decode_plate_key(b'"AB123CD"') == "AB123CD"


def test_a_batchs_writes_and_deletes_are_undone_by_a_rollback() -> None:
    states = PlateStates()
    states.apply(1, 0, b'"KEEP"', FAUST_WRITTEN)
    states.apply(1, 1, b'"GONE"', FAUST_WRITTEN)
    states.begin()
    states["KEEP"] = PlateRuleState(partition=1, watermark=9.0)
    states["KEEP"] = PlateRuleState(partition=1, watermark=10.0)
    states["NEW"] = PlateRuleState(partition=2, watermark=1.0)
    del states["GONE"]
    assert [(p, k, v is None) for p, k, v in states.unsent] == [
        (1, "KEEP", False), (1, "KEEP", False), (2, "NEW", False), (1, "GONE", True)
    ]  # fmt: skip
    states.rollback()
    assert states.encoded == {"KEEP": FAUST_WRITTEN, "GONE": FAUST_WRITTEN}
    assert states.partitions == {"KEEP": 1, "GONE": 1} and states.unsent == []


def test_writes_kept_once_done_and_partitions_let_go() -> None:
    states = PlateStates()
    states.begin()
    states["A"] = PlateRuleState(partition=1, watermark=1.0)
    states["B"] = PlateRuleState(partition=2, watermark=1.0)
    assert len(states.take_unsent()) == 2
    states.done()
    states.rollback()  # nothing to undo once done
    assert set(states) == {"A", "B"}
    assert states.forget_partitions([2, 5]) == 1
    assert set(states) == {"A"} and states.partitions == {"A": 1}


def test_bad_changelog_records_are_skipped_and_a_bad_state_starts_afresh() -> None:
    states = PlateStates()
    states.apply(0, 0, None, FAUST_WRITTEN)
    states.apply(0, 1, b"not json", FAUST_WRITTEN)
    states.apply(0, 2, b"17", FAUST_WRITTEN)
    states.apply(0, 3, b'"BAD"', b"{}")
    assert states.malformed == 3 and "BAD" in states.encoded
    assert states.get("BAD") is None and states.malformed == 4
