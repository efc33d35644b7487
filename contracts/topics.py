"""Create the pipeline's topics with the partition counts the design relies on.

The rates and dead-letter topics get as many partitions as the input topics: rates partition p
carries the output of input partition p (the co-partitioning the checkpoints depend on).
"""

from __future__ import annotations

import logging
from typing import Any

from contracts.settings import Settings

log = logging.getLogger(__name__)


def topic_specs(settings: Settings) -> dict[str, int]:
    n = settings.topic_partitions
    return {
        settings.topic_clicks: n,
        settings.topic_sessions: n,
        settings.topic_rates: n,
        settings.topic_session_rates: n,
        settings.topic_deadletter: n,
        settings.topic_alerts: 1,
    }


def co_partitioned(settings: Settings) -> dict[str, str]:
    """Output topic -> the source topic whose partitions it must match."""
    return {
        settings.topic_rates: settings.topic_clicks,
        settings.topic_session_rates: settings.topic_sessions,
        settings.topic_deadletter: settings.topic_clicks,
    }


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> dict[str, int]:
    """Create missing topics; fail loudly if the broker is unreachable or a count is too small."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap.split(","),
            request_timeout_ms=int(timeout_s * 1000),
            client_id="edu-topics",
        )
    except KafkaError as err:
        raise SystemExit(f"Kafka at {settings.kafka_bootstrap} is unreachable: {err!r}") from None
    try:
        wanted = topic_specs(settings)
        existing = set(admin.list_topics())
        new = [NewTopic(t, n, settings.topic_replication) for t, n in wanted.items() if t not in existing]
        if new:
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # created concurrently by another service
            log.info("created topics %s", [t.name for t in new])
        described = {
            (d.get("topic") or d.get("name")): len(d["partitions"]) for d in admin.describe_topics(list(wanted))
        }
        for topic in wanted:
            source = co_partitioned(settings).get(topic)
            if source and described.get(topic, 0) < described.get(source, 0):
                raise SystemExit(
                    f"topic {topic} has {described.get(topic)} partitions, fewer than "
                    f"its source {source} ({described.get(source)})"
                )
        return described
    finally:
        admin.close()


# Client settings every producer of the input topics agrees on (simulators, collector).


def available_codecs() -> list[str]:
    """Compression codecs kafka-python can use here (lz4, zstd, snappy need extra packages)."""
    from kafka.codec import has_gzip, has_lz4, has_snappy, has_zstd

    checks = {"lz4": has_lz4, "zstd": has_zstd, "snappy": has_snappy, "gzip": has_gzip}
    return [name for name, ok in checks.items() if ok()]


def default_compression() -> str | None:
    """lz4 if installed (cheap on CPU); otherwise none, because gzip costs more CPU than it saves on
    loopback (measured in bench/simulators_bench.py); pass compression_type='gzip' for real networks."""
    return "lz4" if "lz4" in available_codecs() else None


def bootstrap_timeout(cls: Any, config: dict[str, Any]) -> dict[str, Any]:
    """`bootstrap_timeout_ms` under the name this kafka-python knows: 3.x has it; 2.x (pinned since
    3.0.12's consumer rebalance trouble) bounds the first broker contact by
    `api_version_auto_timeout_ms` and raises NoBrokersAvailable after it."""
    if "bootstrap_timeout_ms" in config and "bootstrap_timeout_ms" not in cls.DEFAULT_CONFIG:
        config = dict(config)
        config["api_version_auto_timeout_ms"] = config.pop("bootstrap_timeout_ms")
    return config
