"""The committed lag a batch consumer reports (``streams.lag.LagView``): the broker's measures
brought forward by the member's own commits, never taken back by a stale measure."""

from __future__ import annotations

from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from streams.lag import LagView, PartitionLag

TP0, TP1 = TopicPartition("t", 0), TopicPartition("t", 1)


def gauge(group: str, partition: int) -> float | None:
    labels = {"group": group, "topic": "t", "partition": str(partition)}
    return REGISTRY.get_sample_value("alpr_consumer_lag", labels)


def test_nothing_is_known_before_the_first_measure() -> None:
    view = LagView("g-none")
    view.committed({TP0: 5}, {TP0: 10})
    assert view.total is None


def test_a_commit_brings_the_measure_forward_and_a_stale_measure_does_not_undo_it() -> None:
    view = LagView("g-commit")
    view.measured([PartitionLag("t", 0, 0, 100, None), PartitionLag("t", 1, 10, 50, 40)])
    assert view.total == 100 + 10 and gauge("g-commit", 0) == 100
    view.committed({TP0: 100}, {TP0: 120})  # handled everything it had, 20 more arrived
    assert view.total == 20 + 10 and gauge("g-commit", 0) == 20
    # A measure begun before that commit: the committed offset it read is older.
    view.measured([PartitionLag("t", 0, 0, 120, 60), PartitionLag("t", 1, 10, 50, 50)])
    assert view.total == 20 + 0
    assert gauge("g-commit", 1) == 0


def test_a_partition_never_committed_counts_from_its_log_start() -> None:
    assert PartitionLag("t", 0, 30, 100, None).lag == 70
    assert PartitionLag("t", 0, 30, 100, 10).lag == 70  # committed before retention removed it
    assert PartitionLag("t", 0, 0, 100, 100).lag == 0
