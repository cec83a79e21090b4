"""Per-plate rule state beside the rule feed's batch consumer, backed by a compacted changelog.

The plate-keyed rules are evaluated in the rule feed (``agents.alerting.feed``), which reads
``alpr.plates.detected`` in batches below Faust; a plate's reads are all on one partition of
that topic (the router keys them by plate), so its state is kept with that partition. The
changelog, ``<app id>-rule_state_by_plate-changelog``, has one partition per partition of the
detected topic and holds each plate's latest state (JSON, as the Faust table of that name
wrote it, key included, so state written before the move carries on); a worker given a
partition reads its changelog partition to the end before it evaluates a read of it
(:meth:`PlateStates.restore_partitions`, as the router restores its seen event ids).

States are kept as their encoded bytes, which the garbage collector does not walk: one
object per plate ever read made full collections stop the worker for 100-230 ms at 1,000
reads/s with a rate rule. A write goes into the local data at once and its changelog record
waits in :attr:`PlateStates.unsent` until the feed sends it (after the alerts it raised, so
a crash between the two raises the alert again rather than never). :meth:`begin` and
:meth:`rollback` put the touched entries back when a batch must go again after a failed
send: its reads are then evaluated afresh, not taken for redeliveries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, MutableMapping

from tables.rule_state import PlateRuleState, decode_state, encode_state

log = logging.getLogger(__name__)

#: A changelog record not yet sent: partition, key (plate), encoded state or None (a delete).
Change = tuple[int, str, bytes | None]


def encode_plate_key(plate: str) -> bytes:
    """A plate as the changelog's key (JSON, as Faust wrote a table's string keys)."""
    return json.dumps(plate).encode()


def decode_plate_key(key: bytes) -> str:
    plate = json.loads(key)
    if not isinstance(plate, str):
        raise ValueError(f"changelog key {key!r} is not a plate")
    return plate


class PlateStates(MutableMapping[str, PlateRuleState]):
    """This worker's plate states (of the detected partitions it owns), seen as states."""

    def __init__(self) -> None:
        #: Encoded state per plate.
        self.encoded: dict[str, bytes] = {}
        #: The partition each plate's state belongs to.
        self.partitions: dict[str, int] = {}
        #: Changelog records of the writes not yet sent, in the order written.
        self.unsent: list[Change] = []
        #: Records of the changelog that could not be read back (skipped at restore).
        self.malformed = 0
        self._before: dict[str, tuple[bytes | None, int | None]] | None = None

    # -- the mapping the engine uses ------------------------------------------------------

    def __getitem__(self, plate: str) -> PlateRuleState:
        data = self.encoded.get(plate)
        if data is None:
            raise KeyError(plate)
        try:
            return decode_state(data)
        except ValueError:  # restored as it was written: one bad record costs its plate's past
            log.warning("rule state of %s does not decode; starting it afresh", plate)
            self.malformed += 1
            raise KeyError(plate) from None

    def __setitem__(self, plate: str, state: PlateRuleState) -> None:
        data = encode_state(state)
        self._remember(plate)
        self.encoded[plate] = data
        self.partitions[plate] = state.partition
        self.unsent.append((state.partition, plate, data))

    def __delitem__(self, plate: str) -> None:
        partition = self.partitions[plate]
        self._remember(plate)
        del self.encoded[plate]
        del self.partitions[plate]
        self.unsent.append((partition, plate, None))

    def __iter__(self) -> Iterator[str]:
        return iter(self.encoded)

    def __len__(self) -> int:
        return len(self.encoded)

    # -- a batch's writes ---------------------------------------------------------------

    def begin(self) -> None:
        """Start remembering the entries as they were before this batch's first write."""
        self._before = {}
        self.unsent = []

    def _remember(self, plate: str) -> None:
        if self._before is not None and plate not in self._before:
            self._before[plate] = (self.encoded.get(plate), self.partitions.get(plate))

    def take_unsent(self) -> list[Change]:
        unsent, self.unsent = self.unsent, []
        return unsent

    def done(self) -> None:
        """The batch's writes are in the changelog: forget how the entries were."""
        self._before = None

    def rollback(self) -> None:
        """Put the entries written since :meth:`begin` back as they were; drop their records."""
        before, self._before = self._before or {}, None
        for plate, (data, partition) in before.items():
            if data is None or partition is None:
                self.encoded.pop(plate, None)
                self.partitions.pop(plate, None)
            else:
                self.encoded[plate] = data
                self.partitions[plate] = partition
        self.unsent = []

    # -- partitions coming and going ----------------------------------------------------

    def forget_partitions(self, partitions: Iterable[int]) -> int:
        """Drop the states of ``partitions`` (given up, or about to be restored afresh)."""
        gone = set(partitions)
        plates = [plate for plate, p in self.partitions.items() if p in gone]
        for plate in plates:
            del self.encoded[plate]
            del self.partitions[plate]
        return len(plates)

    def apply(self, partition: int, _offset: int, key: bytes | None, value: bytes | None) -> None:
        """Take one changelog record read back (``streams.changelog.Apply``)."""
        try:
            if key is None:
                raise ValueError("no key")
            plate = decode_plate_key(key)
        except ValueError:
            self.malformed += 1
            return
        if value is None:
            self.encoded.pop(plate, None)
            self.partitions.pop(plate, None)
            return
        self.encoded[plate] = value
        self.partitions[plate] = partition
