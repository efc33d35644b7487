"""Create the pipeline's topics with the partition counts the design relies on.

The rates and dead-letter topics get as many partitions as the input topics: rates partition p
carries the output of input partition p (the co-partitioning the checkpoints depend on).
"""
from __future__ import annotations

import logging

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
    return {settings.topic_rates: settings.topic_clicks,
            settings.topic_session_rates: settings.topic_sessions,
            settings.topic_deadletter: settings.topic_clicks}


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> dict[str, int]:
    """Create missing topics; fail loudly if the broker is unreachable or a count is too small."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","),
                                 request_timeout_ms=int(timeout_s * 1000), client_id="edu-topics")
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
        described = {(d.get("topic") or d.get("name")): len(d["partitions"]) for d in admin.describe_topics(list(wanted))}
        for topic, n in wanted.items():
            source = co_partitioned(settings).get(topic)
            if source and described.get(topic, 0) < described.get(source, 0):
                raise SystemExit(f"topic {topic} has {described.get(topic)} partitions, fewer than "
                                 f"its source {source} ({described.get(source)})")
        return described
    finally:
        admin.close()
