"""``alpr bootstrap``: create the topics, the bucket and whatever later stages register.

Every step is idempotent, so bootstrap runs at every ``make demo`` / ``make test`` and after
any deployment. Other packages add steps with :func:`bootstrap_step` (for example database
migrations or index templates); steps run in ascending ``order``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust
from faust.cli import option

from alpr import app
from config.settings import Settings, get_settings
from streams.retry import Backoff

#: The packages whose module-level topics bootstrap declares (those autodiscovery imports).
TOPIC_PACKAGES = ("streams", "tables", "agents", "web")

StepFn = Callable[[Settings], Awaitable[str]]


@dataclass(frozen=True)
class Step:
    name: str
    order: int
    run: StepFn


_STEPS: dict[str, Step] = {}


def bootstrap_step(name: str, order: int = 100) -> Callable[[StepFn], StepFn]:
    """Register an idempotent bootstrap step that returns a one-line summary of what it did."""

    def register(fn: StepFn) -> StepFn:
        _STEPS[name] = Step(name, order, fn)
        return fn

    return register


def registered_steps() -> list[Step]:
    return sorted(_STEPS.values(), key=lambda step: (step.order, step.name))


def declared_topics() -> list[faust.TopicT]:
    """Module-level topics of the project's packages, found among the imported modules."""
    found: dict[tuple[str, ...], faust.TopicT] = {}
    for module_name, module in list(sys.modules.items()):
        if module is None or module_name.split(".")[0] not in TOPIC_PACKAGES:
            continue
        for value in vars(module).values():
            if isinstance(value, faust.TopicT) and value.topics:
                found[tuple(value.topics)] = value
    return [found[key] for key in sorted(found)]


def changelog_topics() -> list[faust.TopicT]:
    """The changelog topic of every Faust table of the app, as Faust itself declares it
    (partitions, compaction, retention)."""
    return [table.changelog_topic for table in app.tables.values()]


@bootstrap_step("kafka topics", order=10)
async def create_topics(settings: Settings) -> str:
    """The contract's topics and every table's changelog. A worker declares its tables'
    changelogs itself at start, but its group may be assigned before the new topic is in the
    cluster's metadata; a global table's then made Faust's assignor fail and the worker wait
    for ever (issue 17's registry-down drill). Made here, they exist before any worker."""
    topics = [*declared_topics(), *changelog_topics()]
    for topic in topics:
        await retry(f"declare topic {topic.get_topic_name()}", topic.maybe_declare)
    names = ", ".join(t.get_topic_name() for t in topics)
    return (
        f"{len(topics)} topic(s) present ({settings.kafka.partitions} partitions default): {names}"
    )


@bootstrap_step("s3 bucket", order=20)
async def create_bucket(settings: Settings) -> str:
    from aiobotocore.session import get_session
    from botocore.exceptions import ClientError

    s3 = settings.s3
    async with get_session().create_client("s3", **s3.client_kwargs()) as client:
        try:
            await retry(f"head bucket {s3.bucket}", lambda: client.head_bucket(Bucket=s3.bucket))
            return f"bucket {s3.bucket} present"
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise
        await client.create_bucket(Bucket=s3.bucket)
        return f"bucket {s3.bucket} created"


async def retry(
    what: str, fn: Callable[[], Awaitable[Any]], attempts: int = 8, first_delay: float = 0.5
) -> Any:
    """Run ``fn`` with exponential backoff on connection errors (a service still starting)."""
    backoff = Backoff(first_delay, 10.0)
    for attempt in range(1, attempts + 1):
        try:
            return await fn()
        except (TimeoutError, OSError, ConnectionError) as exc:
            if attempt == attempts:
                raise
            delay = backoff.delay(attempt - 1)
            print(f"  {what}: {exc!r}; retrying in {delay:.1f}s", flush=True)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def run_steps(settings: Settings, only: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Run the registered steps (or those named in ``only``); return (name, summary) pairs."""
    done = []
    for step in registered_steps():
        if only and step.name not in only:
            continue
        started = time.monotonic()
        summary = await step.run(settings)
        print(f"  {step.name}: {summary} [{time.monotonic() - started:.1f}s]", flush=True)
        done.append((step.name, summary))
    return done


@app.command(
    option("--only", multiple=True, help="Run only the named step (repeatable)."),
    option("--list", "list_steps", is_flag=True, help="List the steps and exit."),
)
async def bootstrap(self: Any, only: tuple[str, ...], list_steps: bool) -> None:
    """Create Kafka topics, the S3 bucket and other stores; safe to run again at any time."""
    if list_steps:
        for step in registered_steps():
            print(f"{step.order:>4}  {step.name}")
        return
    unknown = set(only) - {step.name for step in registered_steps()}
    if unknown:
        raise SystemExit(f"unknown step(s): {', '.join(sorted(unknown))} (see --list)")
    print("bootstrap:", flush=True)
    await run_steps(get_settings(), only)
    await app.producer.stop()
