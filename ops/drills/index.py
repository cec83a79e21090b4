"""Every drill by name, in the order ``alpr drill`` runs them."""

from __future__ import annotations

from ops.drills.catalog import (
    BadInput,
    BrokerKill,
    Drill,
    ElasticsearchDown,
    PostgresKill,
    RegistryDownAtStart,
    WorkerKill,
)
from ops.drills.spool import SpoolDiskFull
from ops.drills.webhook import SlowWebhook

DRILLS: dict[str, Drill] = {
    d.name: d
    for d in (
        BadInput(), WorkerKill(), PostgresKill(), ElasticsearchDown(), RegistryDownAtStart(),
        SlowWebhook(), SpoolDiskFull(), BrokerKill(),
    )
}  # fmt: skip
