"""Reliability drills (``alpr drill``): faults caused on a private stack under a known load,
and every event counted by id in every store (issue 17)."""
