"""``ops.worker.free_port``: ports for private services and workers, never in the kernel's
ephemeral range (an outgoing connection may take such a port first) and never twice."""

from __future__ import annotations

import socket

from ops import worker


def test_ports_lie_outside_the_ephemeral_range_and_are_distinct() -> None:
    low, high = worker._ephemeral_range()
    ports = [worker.free_port() for _ in range(60)]
    assert len(set(ports)) == len(ports)
    assert all(not low <= port <= high for port in ports)
    assert all(worker.FREE_PORT_RANGE[0] <= port < worker.FREE_PORT_RANGE[1] for port in ports)


def test_a_port_someone_listens_on_is_not_handed_out(monkeypatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # Only the taken port to choose from: the kernel chooses instead.
        monkeypatch.setattr(worker, "FREE_PORT_RANGE", (port, port + 1))
        monkeypatch.setattr(worker, "_ephemeral_range", lambda: (0, 0))
        assert worker._bindable(port) is False
        chosen = worker.free_port()
        assert chosen != port
