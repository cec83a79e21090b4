"""``alpr dlq replay --reason unwritable`` against the real broker (issue 17, finding 7).

The projections dead-letter reads a store refuses as ``unwritable``; the command could not
select them (the reason was not one it knew), and a letter without its original bytes was
passed over without a word. Here the dead-letter topic holds an ``unwritable`` letter with
its payload, one whose payload was dropped, and a letter of another reason: the replay sends
back exactly the first, and names the second on stderr with why it cannot be replayed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from agents.deadletters.letters import HEADER_REPLAY_OF
from config.settings import Settings
from streams.codec import AvroSchema, default_schema_cache, encode, to_datum, value_subject
from streams.records import DeadLetter
from tests.integration.test_reliability_registry import run
from tests.integration.test_router import produce
from tests.support.isolated import IsolatedRun

__all__ = ["run"]  # the fixture

BIN = Path(sys.executable).parent


def dead_letter(
    run: IsolatedRun, reason: str, payload: bytes | None, message: str = "refused"
) -> DeadLetter:
    now = datetime.now(UTC)
    return DeadLetter(
        id=str(uuid.uuid4()), reason=reason, message=message, stage="project",
        topic=run.topic("detected"), partition=0, offset=41, key=b"AB12CDE", payload=payload,
        first_failed_at=now, failed_at=now, attempts=1,
    )  # fmt: skip


async def read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=3000)
        return [(r.value, dict(r.headers)) for records in batches.values() for r in records]
    finally:
        await consumer.stop()


async def test_replay_selects_unwritable_letters_and_says_why_one_is_skipped(
    settings: Settings, run: IsolatedRun
) -> None:
    bootstrap = settings.kafka.bootstrap_servers
    dlq = run.topic("dlq")
    schema = AvroSchema.named("DeadLetter")
    schema_id = default_schema_cache().id_for(value_subject(dlq), schema)
    unwritable = dead_letter(run, "unwritable", b"row-1")
    dropped = dead_letter(
        run, "unwritable", None, "refused [payload of 9000000 bytes dropped: too large]"
    )
    other = dead_letter(run, "wrong_magic", b"other")
    await produce(
        bootstrap,
        dlq,
        [
            (x.id.encode(), encode(schema_id, schema, to_datum(x)))
            for x in (unwritable, dropped, other)
        ],
    )

    done = subprocess.run(
        [str(BIN / "alpr"), "dlq", "replay", "--reason", "unwritable"],
        env={**os.environ, **run.env()},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "replayed 1 messages (unwritable=1); 1 skipped without payload" in done.stdout
    assert f"skipped {dropped.id} (unwritable, from {run.topic('detected')}[0]@41)" in done.stderr
    assert "payload was dropped" in done.stderr
    replayed = await read_all(bootstrap, run.topic("detected"))
    assert [(value, headers[HEADER_REPLAY_OF]) for value, headers in replayed] == [
        (b"row-1", unwritable.id.encode())
    ]
