"""The spools' size cap and the worker's policy when one is full: loud, never silent."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from edge.metrics import EdgeMetrics
from edge.publish.capped import CappedSpools
from edge.publish.kafka import EventPublisher
from edge.publish.s3 import CropUploader
from edge.publish.spool import Spool, SpoolFull


def _value(metrics: EdgeMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_a_full_spool_evicts_its_oldest_evictable_items_then_refuses(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_bytes=30)
    spool.put("k", b"beat-1....", evictable=True)  # 10 bytes each
    spool.put("k", b"event-1...")
    spool.put("k", b"beat-2....", evictable=True)
    spool.put("k", b"event-2...")  # makes room by evicting beat-1
    assert [i.value for i in spool.peek(10)] == [b"event-1...", b"beat-2....", b"event-2..."]
    spool.put("k", b"event-3...")  # evicts beat-2
    assert spool.evicted == 2 and spool.size() == 30
    with pytest.raises(SpoolFull, match="cap"):
        spool.put("k", b"event-4...")
    assert [i.value for i in spool.peek(10)] == [b"event-1...", b"event-2...", b"event-3..."]
    spool.ack(spool.peek(1))
    spool.put("k", b"event-4...")  # room again
    spool.close()
    reopened = Spool(tmp_path / "s.db", max_items=3)  # counts survive a reopen
    assert (reopened.depth(), reopened.size()) == (3, 30)
    with pytest.raises(SpoolFull):
        reopened.put("k", b"x")


def test_items_acknowledged_after_their_eviction_count_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_items=2)
    spool.put("k", b"beat", evictable=True)
    sending = spool.peek(1)  # a sender holds the heartbeat ...
    spool.put("k", b"e1")
    spool.put("k", b"e2")  # ... while it is evicted
    spool.ack(sending)
    assert (spool.depth(), spool.size()) == (2, 4)


def _spools(tmp_path: Path, stopping: threading.Event) -> tuple[CappedSpools, EdgeMetrics]:
    metrics = EdgeMetrics()
    events = EventPublisher(Spool(tmp_path / "e.db", max_items=2), "127.0.0.1:9", "http://x")
    crops = CropUploader(Spool(tmp_path / "c.db", max_bytes=1024), "bucket", {})
    return CappedSpools(events, crops, metrics, stopping), metrics


def test_a_final_event_waits_for_room_rather_than_being_dropped(tmp_path: Path) -> None:
    spools, metrics = _spools(tmp_path, threading.Event())
    for i in range(2):
        assert spools.event("raw", "cam", "PlateEvent", {"n": i})
    done: list[bool] = []
    held = threading.Thread(target=lambda: done.append(spools.event("raw", "cam", "PE", {"n": 2})))
    held.start()
    time.sleep(0.3)
    assert done == [] and _value(metrics, "alpr_edge_spool_full", spool="events") == 1
    spools.events.spool.ack(spools.events.spool.peek(1))  # the broker took one
    held.join(timeout=10)
    assert done == [True]
    assert spools.events.spool.depth() == 2


def test_at_shutdown_a_held_event_is_given_up_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stopping = threading.Event()
    spools, metrics = _spools(tmp_path, stopping)
    spools.event("raw", "cam", "PlateEvent", {"n": 0})
    spools.event("raw", "cam", "PlateEvent", {"n": 1})
    stopping.set()
    assert not spools.event("raw", "cam", "PlateEvent", {"plate_text": "5AU5341"})
    assert "5AU5341" in caplog.text  # the event is in the log in full
    assert _value(metrics, "alpr_edge_spool_dropped_total", spool="events", kind="PlateEvent") == 1


def test_previews_and_heartbeats_give_way_and_crops_that_do_not_fit_are_counted(
    tmp_path: Path,
) -> None:
    spools, metrics = _spools(tmp_path, threading.Event())
    assert spools.superseded("cams", "cam", "CameraStatus", {"state": "online"})
    assert spools.superseded("raw", "cam", "PlateEvent", {"preview": True})
    assert spools.event("raw", "cam", "PlateEvent", {"n": 0})  # evicts the heartbeat
    assert spools.event("raw", "cam", "PlateEvent", {"n": 1})  # evicts the preview
    assert spools.events.spool.evicted == 2
    assert not spools.superseded("raw", "cam", "PlateEvent", {"preview": True})
    assert _value(metrics, "alpr_edge_spool_dropped_total", spool="events", kind="preview") == 1
    assert spools.crop("a.jpg", b"x" * 1000, {}, "plate")
    assert not spools.crop("b.jpg", b"x" * 100, {}, "vehicle")
    assert _value(metrics, "alpr_edge_spool_dropped_total", spool="crops", kind="vehicle") == 1


def _fill_database(spool: Spool) -> None:
    """Cap the spool's file at its current pages: SQLite's own "database or disk is full",
    as on a full disk."""
    pages = spool._db.execute("PRAGMA page_count").fetchone()[0]
    spool._db.execute(f"PRAGMA max_page_count = {pages}")


def test_a_full_disk_is_a_full_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    spool.put("k", b"e1" * 2000)
    _fill_database(spool)
    with pytest.raises(SpoolFull, match="disk is full"):
        spool.put("k", b"e2" * 4000)
    assert (spool.depth(), spool.size()) == (1, 4000)
    spool.ack(spool.peek(1))  # the sender makes room
    spool._db.execute("PRAGMA max_page_count = 1000000")  # and the disk has room again
    spool.put("k", b"e2" * 4000)
    assert (spool.depth(), spool.size()) == (1, 8000)
