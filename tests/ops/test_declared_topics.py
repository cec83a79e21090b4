"""A topic a worker declares is served before the worker subscribes to it (issue 17's
registry-down drill): Faust's assignor fails on a global table's changelog that the
cluster's metadata does not show yet, and the worker then waits for ever."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata
from aiokafka.protocol.metadata import MetadataResponse_v1
from faust.assignor.client_assignment import ClientAssignment, ClientMetadata

from alpr import app
from ops.faust_fixes import unserved

LEADER_NOT_AVAILABLE = 5


def cluster_with(topics: dict[str, list[int]], not_yet: tuple[str, ...] = ()) -> ClusterMetadata:
    """Metadata of one broker: each of ``topics`` with its partitions' leaders (-1: none),
    each of ``not_yet`` just created (LEADER_NOT_AVAILABLE, no partitions)."""
    described = [
        (0, name, False, [(0, p, leader, [1], [1]) for p, leader in enumerate(leaders)])
        for name, leaders in topics.items()
    ]
    described += [(LEADER_NOT_AVAILABLE, name, False, []) for name in not_yet]
    cluster = ClusterMetadata()
    cluster.update_metadata(MetadataResponse_v1([(1, "127.0.0.1", 9092, None)], 1, described))
    return cluster


def test_a_topic_is_served_once_every_partition_has_a_leader() -> None:
    cluster = cluster_with({"led": [1, 1], "half": [1, -1]}, not_yet=("new",))
    assert unserved(cluster, ["led", "half", "new", "absent"]) == ["half", "new", "absent"]


def test_faust_assignor_fails_on_a_global_changelog_not_served_yet() -> None:
    """The upstream failure the wait avoids (faust-streaming 0.15.3): if this passes no more,
    the assignor copes with it and the wait may go."""
    app.discover()
    changelog = app.tables["cameras_by_id"].changelog_topic.get_topic_name()
    cluster = cluster_with({"alpr.plates.raw": [1, 1]}, not_yet=(changelog,))
    client = ClientMetadata(
        assignment=ClientAssignment(actives={}, standbys={}),
        url="http://w:1",
        changelog_distribution={},
    ).dumps()
    member = ConsumerProtocolMemberMetadata(0, ["alpr.plates.raw", changelog], client)
    assignor: Any = app.assignor
    with pytest.raises(KeyError, match=changelog):
        assignor.assign(cluster, {"worker-1": member})
