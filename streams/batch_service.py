"""Running a :class:`streams.batch_consumer.BatchConsumer` as a service of the Faust worker.

Registered with ``@app.service``, it starts once the worker has started (after table
recovery) and stops with it: the stop lets the batches in flight finish or give up, commits
what was handled, and leaves the group. A handler that fails for good crashes the worker, as
an agent's unhandled error would, rather than consume on past an unhandled batch.
"""

from __future__ import annotations

import asyncio
import logging
from abc import abstractmethod

from aiokafka import AIOKafkaProducer
from mode import Service

from streams.batch_consumer import BatchConsumer

log = logging.getLogger(__name__)


class BatchConsumerService(Service):
    """Base of a worker service that runs one batch consumer; subclasses build it."""

    consumer: BatchConsumer | None = None
    #: The service's own producer, if it writes (started by :meth:`start_producer`).
    producer: AIOKafkaProducer | None = None
    _running: asyncio.Future[None] | None = None

    def abandoning(self) -> bool:
        """Whether the consumer tells its handler to give its batch up (stop, rebalance):
        the ``stopping`` of the handler's backoff."""
        return self.consumer is not None and self.consumer.should_abandon()

    async def start_producer(self, producer: AIOKafkaProducer) -> AIOKafkaProducer:
        """Start ``producer`` as this service's; it is stopped after the consumer."""
        await producer.start()
        self.producer = producer
        return producer

    @abstractmethod
    def build_consumer(self) -> BatchConsumer:
        """The consumer to run (called once, at start)."""

    async def on_start(self) -> None:
        self.consumer = self.build_consumer()
        self._running = self.add_future(self.consumer.run())

    async def on_stop(self) -> None:
        consumer, running = self.consumer, self._running
        if consumer is None or running is None:
            return
        consumer.stop_soon()
        try:
            # The consumer bounds its own wait (stop_wait_s); this only guards against a hang.
            await asyncio.wait_for(
                asyncio.shield(running), timeout=consumer.settings.stop_wait_s + 30
            )
        except TimeoutError:
            log.error("%s did not stop in time; cancelling it", consumer.name)
        except Exception:  # already reported by the crash of this service
            pass
        finally:
            if self.producer is not None:
                await self.producer.stop()
