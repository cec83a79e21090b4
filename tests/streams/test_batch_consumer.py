"""A batch's offsets: where to commit once it is handled, and where to read again from."""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from pydantic import ValidationError

from streams.batch_consumer import Batch, BatchConsumerSettings, merge_offsets


def record(partition: int, offset: int) -> ConsumerRecord:
    return ConsumerRecord("t", partition, offset, 0, 0, None, b"v", None, 0, 1, [])


def test_a_batch_commits_past_its_last_offset_and_rewinds_to_its_first_per_partition() -> None:
    batch = Batch([record(0, 5), record(1, 9), record(0, 6), record(0, 7)], generation=0)
    assert batch.next_offsets() == {TopicPartition("t", 0): 8, TopicPartition("t", 1): 10}
    assert batch.first_offsets() == {TopicPartition("t", 0): 5, TopicPartition("t", 1): 9}
    assert len(batch) == 4


def test_offsets_of_several_batches_merge_forward_to_commit_and_back_to_rewind() -> None:
    tp0, tp1 = TopicPartition("t", 0), TopicPartition("t", 1)
    commit = {tp0: 8}
    merge_offsets(commit, {tp0: 12, tp1: 3}, max)
    assert commit == {tp0: 12, tp1: 3}
    rewind = {tp0: 8}
    merge_offsets(rewind, {tp0: 5, tp1: 3}, min)
    assert rewind == {tp0: 5, tp1: 3}


def test_settings_are_bounded() -> None:
    with pytest.raises(ValidationError):
        BatchConsumerSettings(max_in_flight=0)
    with pytest.raises(ValidationError):
        BatchConsumerSettings(unknown=1)  # type: ignore[call-arg]
