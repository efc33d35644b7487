"""The worker's output producer, on a thread and event loop of its own.

The worker's event loop spends most of its time folding events, in steps of ~10-20 ms that do not
yield. On that loop, a rate batch's produce request is written, and its acknowledgement read, only
between two such steps: a 5 ms round trip to the broker took ~30-45 ms, and with one batch in
flight per partition the worker sat idle ~40 % of the time waiting for acknowledgements
(bench/README.md, stream section). On its own thread the producer gets the interpreter at least
every switch interval (5 ms) and the round trip stays short.

Idempotent, acks from all replicas: a batch retried across a broker restart is written once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from contracts.settings import Settings

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

START_TIMEOUT_S = 60.0


class RatesSender:
    """send(topic, partition, value) from any event loop; the returned awaitable resolves once the
    broker has the record (or raises the producer's error)."""

    def __init__(self, settings: Settings, client_id: str) -> None:
        self._settings = settings
        self._client_id = client_id
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="rates-sender", daemon=True)
        self._producer: AIOKafkaProducer | None = None

    def start(self) -> None:
        """Start the thread and connect; fails loudly if the broker does not answer in time."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        try:
            future.result(timeout=START_TIMEOUT_S)
        except (concurrent.futures.TimeoutError, Exception) as err:
            raise SystemExit(
                f"the worker's producer could not reach Kafka at {self._settings.kafka_bootstrap}: {err!r}"
            ) from err

    async def _start(self) -> None:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.kafka_bootstrap.split(","),
            client_id=self._client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=0,
            max_request_size=4 * 1024 * 1024,
        )
        self._producer = producer
        await producer.start()

    async def send(self, topic: str, partition: int | None, value: bytes) -> Awaitable[object]:
        """Hand the record to the producer thread; return its delivery as a future of this loop."""
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._deliver(topic, partition, value), self._loop))

    async def _deliver(self, topic: str, partition: int | None, value: bytes) -> object:
        assert self._producer is not None, "RatesSender.send before start"
        delivery = await self._producer.send(topic, value, partition=partition)
        return await delivery

    def stop(self, timeout: float = 30.0) -> None:
        """Flush what is pending, close the producer, end the thread."""
        if not self._thread.is_alive():
            return
        if self._producer is not None:
            asyncio.run_coroutine_threadsafe(self._producer.stop(), self._loop).result(timeout=timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=timeout)
