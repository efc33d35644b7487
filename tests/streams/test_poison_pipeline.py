"""Poison on a real broker: kafka-python producer -> Kafka -> `edu-worker` subprocess -> rates and
dead-letter topics. Tombstones, invalid UTF-8, deep nesting and a gzip bomb among good client
batches, and one client clock 9 minutes ahead: the worker never restarts, the good counts are exact,
no on-time event is counted late, and each poison message is one dead letter."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import pytest

from contracts.deadletter import decode_record
from contracts.events import Click, encode
from contracts.settings import settings_env
from contracts.topics import ensure_topics
from simulators.hostile import poison
from tests.conftest import make_settings
from tests.streams.test_exactness import RatesTail, end_offsets, read_topic
from tests.support import WorkerProcess, known_clicks, wait_for

pytestmark = [pytest.mark.integration]


def test_poison_among_good_events_never_stops_the_worker(kafka: str, tmp_path: Path) -> None:
    from kafka import KafkaProducer

    s = make_settings(kafka, max_decompressed_bytes=4 << 20)
    ensure_topics(s)
    now = int(time.time() * 1000)
    clicks = known_clicks(4_000, seed=1212, start_ms=now - 120_000, span_ms=100_000)  # on time, live
    rng = random.Random(1212)
    ahead = Click(
        **{**{f: getattr(clicks[0], f) for f in clicks[0].__struct_fields__}, "id": "ahead", "ts": now + 9 * 60_000}
    )  # accepted (future tolerance 10 min), a skewed client

    prod = KafkaProducer(
        bootstrap_servers=kafka.split(","), acks="all", linger_ms=5, max_request_size=64 << 20, enable_idempotence=True
    )
    bomb_prod = KafkaProducer(
        bootstrap_servers=kafka.split(","),
        acks="all",
        compression_type="gzip",
        max_request_size=64 << 20,
        batch_size=1 << 20,
    )
    worker = WorkerProcess(s, tmp_path / "worker.log", settings_env(s)).start()
    pid = worker.proc.pid  # type: ignore[union-attr]
    tail = RatesTail(s)
    try:
        good = list(clicks)
        poison_offsets: dict[str, tuple[int, int]] = {}
        futures = []
        i = 0
        for n, part in enumerate(range(0, len(clicks), 20)):
            p = n % s.topic_partitions
            futures.append(prod.send(s.topic_clicks, value=encode(clicks[part : part + 20]), partition=p))
            if n == 10:  # the skewed client, on partition 0 among on-time traffic that follows
                futures.append(prod.send(s.topic_clicks, value=encode(ahead), partition=0))
                good.append(ahead)
            if n in (20, 60, 100):
                kind = ("tombstone", "invalid_utf8", "deep_nesting")[i]
                i += 1
                raw, _n_good = poison(kind, rng, 19, now - 60_000)
                fut = prod.send(s.topic_clicks, key=b"k", value=raw, partition=p)  # a tombstone needs a key
                prod.flush()
                meta = fut.get(timeout=30)
                poison_offsets[kind] = (meta.partition, meta.offset)
                if raw is not None:
                    from contracts.events import decode

                    good += decode(raw, max_bytes=s.max_message_bytes, max_events=s.max_events_per_message).events
            if n == 140:  # 32 MB of zeros in one gzip batch of ~32 KB: past the worker's 4 MB bound
                bomb = bomb_prod.send(s.topic_clicks, value=b"\0" * (32 << 20), partition=p)
                bomb_prod.flush()
                meta = bomb.get(timeout=60)
                poison_offsets["bomb"] = (meta.partition, meta.offset)
        prod.flush()
        for f in futures:
            f.get(timeout=60)
        ends = end_offsets(kafka, s.topic_clicks, s.topic_partitions)

        def covered() -> bool:
            tail.poll()
            return not tail.coverage_errors(ends)

        wait_for(covered, 120, "rates covering every source offset", describe=lambda: tail.coverage_errors(ends))

        assert worker.alive() and worker.proc.pid == pid  # type: ignore[union-attr]
        batches = [b for bs in tail.batches.values() for b in bs]
        assert tail.events() == len(good)
        assert sum(r.events for b in batches for r in b.late) == 0  # nobody late because of the skewed clock
        got = Counter()
        for b in batches:
            for r in b.clicks:
                got[(r.platform, r.province)] += r.clicks
        assert got == Counter((c.platform, c.province) for c in good if isinstance(c, Click))
        assert tail.rejects() == {"tombstone": 1, "encoding": 1, "too_deep": 1, "too_large": 1}
        letters = [decode_record(v) for v in read_topic(s, s.topic_deadletter)]
        assert sorted((x.src_partition, x.src_offset) for x in letters) == sorted(poison_offsets.values())
        by_kind = {
            k: next(x for x in letters if (x.src_partition, x.src_offset) == po) for k, po in poison_offsets.items()
        }
        assert by_kind["tombstone"].reason == "tombstone"
        assert by_kind["invalid_utf8"].reason == "encoding" and by_kind["invalid_utf8"].events == 20
        assert by_kind["deep_nesting"].reason == "too_deep" and by_kind["deep_nesting"].events == 20
        assert by_kind["bomb"].reason == "too_large" and "gzip" in by_kind["bomb"].detail
        log = worker.log_text()
        assert "processing failed" not in log and "set aside" not in log
    finally:
        tail.close()
        prod.close()
        bomb_prod.close()
        worker.stop()
