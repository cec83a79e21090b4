"""Rule state: the records of a plate's or camera's state, and the Faust table of the
camera rules' state (fed by the reads repartitioned by camera). The plate state lives beside
the rule feed, on the batch runtime (``tables.plate_state``), in the same encoding.

Plain tables rather than windowed ones: the rules' windows are event-time windows computed
in ``rules.evaluate``, while Faust's windowed tables expire by wall-clock time, and their
``on_window_close`` does not receive the value (faust-streaming 0.15.3). Each value keeps the
partition it belongs to, so timers (dwell, silence) can write outside a stream event.

The tables hold each state as its JSON bytes (the changelog's own format), and the engine
sees them through :class:`StateTable`, which decodes on read and encodes on write. With
one record per plate ever read kept as Python objects, full garbage collections walked all
of them: at 1,000 reads/s with a rate rule they stopped the worker for 100-230 ms every few
seconds, growing with the table. Bytes are not tracked by the collector.

A write inside a stream event does not go through Faust's table path (``send_soon`` into the
producer's buffer): that buffer is drained one message per turn, and once it holds more
than 100 messages Faust's conductor stops handing out every event of every agent until it
ebbs. With a rule that writes state for every read (1,000 writes/s), a busy machine kept
it full: the alert agent and the notifier fell tens of seconds behind. The writes are kept
in :attr:`StateTable.unsent` and :meth:`StateTable.send_changes` hands them to the worker's
producer directly, after the event and before it is acknowledged; Faust flushes that
producer before it commits offsets, as it does for its own changelog writes, so the state
of a read is in its changelog before the read counts as consumed. Same topic, partition,
key and value as Faust's own writes: recovery and standbys read them as before.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any

import faust

from alpr import app
from rules.evaluate import PlateHistory, Sighting


@dataclass
class PlateRuleState:
    """A plate's (or camera's) recent sightings, cooldowns and raised alert ids, and when the
    entry was written (wall clock; 0 in entries written before it was kept), for its expiry.

    Plain data with an encoding of its own (:func:`encode_state`), the JSON object that the
    Faust record of this name wrote, so that every changelog record written before reads
    back. Going through Faust's record machinery made a state's decode, build and encode
    about 90 us, most of the alert agent's time per read with a rate rule; this way 30 us.
    """

    partition: int
    watermark: float
    sightings: list[Sighting] = field(default_factory=list)
    fired: dict[str, float] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    written_at: float = 0.0

    def history(self) -> PlateHistory:
        return PlateHistory(
            sightings=list(self.sightings),
            fired=dict(self.fired),
            alerts=list(self.alerts),
            watermark=self.watermark,
        )

    @classmethod
    def of(cls, history: PlateHistory, partition: int) -> PlateRuleState:
        return cls(
            partition=partition,
            watermark=history.watermark,
            sightings=list(history.sightings),
            fired=dict(history.fired),
            alerts=list(history.alerts),
            written_at=time.time(),
        )

    def derive(self, **changes: Any) -> PlateRuleState:
        """A copy with ``changes``."""
        return replace(self, **changes)


class CameraTick(faust.Record, serializer="json", include_metadata=False):
    """One read, reduced to what camera-keyed rules need, on the by-camera topic."""

    camera_id: str
    site_id: str
    event_id: str
    ts: float


def encode_state(state: PlateRuleState) -> bytes:
    """A state as the tables and their changelogs hold it (a JSON object)."""
    return json.dumps(
        {
            "partition": state.partition,
            "watermark": state.watermark,
            "sightings": [vars(s) for s in state.sightings],
            "fired": state.fired,
            "alerts": state.alerts,
            "written_at": state.written_at,
        },
        separators=(",", ":"),
    ).encode()


def decode_state(data: bytes) -> PlateRuleState:
    """The state of :func:`encode_state`'s bytes (or of the Faust record's, written before);
    raises ``ValueError`` for bytes that hold no state."""
    try:
        fields = json.loads(data)
        return PlateRuleState(
            partition=int(fields["partition"]),
            watermark=float(fields["watermark"]),
            sightings=[Sighting(**s) for s in fields.get("sightings") or ()],
            fired=dict(fields.get("fired") or {}),
            alerts=list(fields.get("alerts") or ()),
            written_at=float(fields.get("written_at") or 0.0),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a rule state: {exc!r}") from exc


class StateTable(MutableMapping[str, PlateRuleState]):
    """A table of encoded states, seen as states. Reads look at this worker's local data
    (no stream event needed). A write goes into the local data at once and its changelog
    record, to the partition the state names (the stream event's), waits in :attr:`unsent`
    for :meth:`send_changes`. Deletes (rare: expiry works outside streams) go through the
    Faust table."""

    def __init__(self, table: Any) -> None:
        self.table = table
        #: Changelog records of the writes not yet handed to the producer: (partition, key,
        #: encoded state), in the order written.
        self.unsent: list[tuple[int, str, bytes]] = []

    def __getitem__(self, key: str) -> PlateRuleState:
        data = self.table.data.get(key)
        if data is None:
            raise KeyError(key)
        return decode_state(data)

    def __setitem__(self, key: str, state: PlateRuleState) -> None:
        data = encode_state(state)
        self.table.data[key] = data
        self.unsent.append((state.partition, key, data))

    def __delitem__(self, key: str) -> None:
        del self.table[key]

    async def send_changes(self) -> None:
        """Hand the changelog records of the writes so far to the worker's producer (not
        waiting for Kafka: Faust flushes the producer before it commits offsets). Without a
        started producer (an agent's ``test_context()``) they go through the table's own
        path, Faust's buffer, as every write once did."""
        unsent, self.unsent = self.unsent, []
        if not unsent:
            return
        table = self.table
        producer = table.app.producer
        if getattr(producer, "_producer", None) is None:
            for partition, key, data in unsent:
                table.send_changelog(partition, key, data, value_serializer="raw")
            return
        topic = table.changelog_topic
        name = topic.get_topic_name()
        for partition, key, data in unsent:
            key_bytes, _ = topic.prepare_key(key, table.key_serializer)
            sent = await producer.send(
                name, key_bytes, data, partition=partition, timestamp=None, headers=None
            )
            sent.add_done_callback(self._sent)

    def _sent(self, sent: Any) -> None:
        # What Faust's own writes do once sent: a RocksDB store keeps the changelog offset
        # it holds (a memory store ignores it). A failed send is left as Faust leaves its own.
        if not sent.cancelled() and sent.exception() is None:
            self.table._on_changelog_sent(sent)

    def __iter__(self) -> Iterator[str]:
        return iter(self.table.data)

    def __len__(self) -> int:
        return len(self.table.data)


rule_state_by_camera = app.Table(
    "rule_state_by_camera",
    key_type=str,
    value_type=bytes,
    help="Recent reads, cooldowns and alert ids per camera, as JSON (agents.alerting.alerts)",
)

#: The table as the camera agent's engine uses it.
camera_states = StateTable(rule_state_by_camera)
