"""One settings object for every service, read from the environment (prefix `EDU_`) and an optional
file named by `EDU_SETTINGS_FILE` (dotenv format). Invalid values fail at start-up, naming the setting.

Every port, topic, path and tuning knob lives here; modules take a `Settings` argument instead of
reading the environment themselves, so tests build their own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from contracts.calendar import SchoolCalendar, official_calendar, parse_days

_DEFAULT_HOME = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "edu-cockpit"


class SettingsError(SystemExit):
    """Raised (and exits) when settings are invalid; the message names each bad setting."""


class Settings(BaseSettings):
    # nan and inf refused: inf passes every lower bound (an endless hold time, flush interval or rate)
    model_config = SettingsConfigDict(env_prefix="EDU_", frozen=True, extra="forbid", allow_inf_nan=False)

    # --- Kafka -------------------------------------------------------------------------------
    kafka_bootstrap: str = Field("127.0.0.1:19092", description="host:port[,host:port] of brokers")
    kafka_controller_port: int = Field(19093, ge=1, le=65535, description="local KRaft controller")
    topic_clicks: str = "edu.clicks.v1"
    topic_sessions: str = "edu.sessions.v1"
    topic_rates: str = "edu.rates.v1"  # output of topic_clicks, co-partitioned with it
    topic_session_rates: str = "edu.session-rates.v1"  # output of topic_sessions, co-partitioned
    topic_deadletter: str = "edu.deadletter.v1"
    topic_alerts: str = "edu.alerts.v1"
    topic_partitions: int = Field(4, ge=1, le=1024, description="partitions of input topics")
    topic_replication: int = Field(1, ge=1, le=7)

    metrics_host: str = Field("127.0.0.1", description="address /metrics binds (0.0.0.0 in containers)")

    # --- where local services keep their files ---------------------------------------------
    data_dir: Path = _DEFAULT_HOME
    cache_dir: Path = Path.home() / ".cache" / "edu-cockpit"

    # --- ClickHouse ----------------------------------------------------------------------------
    clickhouse_engine: Literal["chdb", "server"] = "chdb"
    chdb_path: Path | None = Field(None, description="embedded store directory; default DATA_DIR/chdb")
    clickhouse_host: str = "127.0.0.1"
    clickhouse_port: int = Field(9000, ge=1, le=65535, description="native protocol port")
    clickhouse_database: str = Field("edu", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    clickhouse_user: str = "default"
    clickhouse_password: str = ""
    clickhouse_compression: bool = True

    clickhouse_cluster: str = Field(
        "",
        pattern=r"^([A-Za-z_][A-Za-z0-9_]*)?$",
        description="cluster name: retention drops t_local ON CLUSTER; empty = single node",
    )

    # --- retention (sinks/retention.py; 0 keeps a table forever) --------------------------------
    retention_minute_days: int = Field(90, ge=0, description="minute tables: days kept")
    retention_late_days: int = Field(90, ge=0, description="late_events: days kept")
    retention_hour_days: int = Field(730, ge=0, description="clicks_hour rollup: days kept")
    retention_rejects_days: int = Field(30, ge=0, description="rejects_minute ledger: days kept")
    retention_resources_days: int = Field(30, ge=0, description="resources_minute: days kept")
    retention_tiles_days: int = Field(7, ge=0, description="tiles_10s: days kept")
    retention_alerts_days: int = Field(400, ge=0, description="alert_log: days kept (whole months)")
    retention_interval_s: float = Field(3600.0, ge=0, description="the sink runs retention this often; 0 disables")
    retention_clock: Literal["event", "wall"] = Field(
        "event", description="'today' = latest stored day, or the wall clock"
    )

    # --- stream worker -------------------------------------------------------------------------
    worker_id: str = Field("edu-worker", pattern=r"^[A-Za-z0-9_.-]+$", description="Faust app id = group")
    worker_batch_max: int = Field(20_000, ge=1, description="messages collected before they are processed")
    worker_batch_within_s: float = Field(0.25, gt=0, le=60, description="max wait to collect messages")
    worker_session_timeout_s: float = Field(10.0, gt=0)
    worker_fetch_max_bytes: int = Field(
        16 * 1024 * 1024,
        ge=65_536,
        description="bytes fetched per partition per request (Faust's 1 MB starves batches)",
    )
    worker_fetch_wait_s: float = Field(
        0.1, gt=0, le=30, description="how long the broker may hold a worker's fetch that finds nothing new"
    )
    worker_metadata_max_age_s: float = Field(
        15.0,
        ge=1.0,
        le=300.0,
        description="refresh the worker's Kafka metadata at least this often: aiokafka's offset lookup does "
        "not refresh it on NotLeaderForPartition, so after a partition's leader moved a worker asked the "
        "old leader until its metadata expired (aiokafka's default: 5 minutes)",
    )
    worker_metrics_port: int = Field(9401, ge=0, le=65535, description="/metrics; 0 disables")
    allowed_lateness_s: int = Field(300, ge=0, description="late events within it update their minute")
    max_future_s: int = Field(600, ge=0, description="events further ahead of the clock are absurd")
    max_message_bytes: int = Field(262_144, ge=1024, description="larger messages are dead-lettered")
    max_events_per_message: int = Field(1000, ge=1)

    # --- sink ----------------------------------------------------------------------------------
    sink_group: str = Field("edu-sink", pattern=r"^[A-Za-z0-9_.-]+$")
    sink_batch_rows: int = Field(50_000, ge=1, description="flush when this many rows are buffered")
    sink_flush_interval_s: float = Field(0.5, gt=0, description="flush at least this often")
    sink_max_backlog_rows: int = Field(500_000, ge=1, description="pause consuming above this")
    sink_retry_max_s: float = Field(30.0, gt=0, description="cap of the retry backoff")
    sink_metrics_port: int = Field(9402, ge=0, le=65535, description="0 disables /metrics")
    sink_instance: str = Field(
        "",
        pattern=r"^(\d{1,3}/\d{1,3})?$",
        description="'I/N': this sink is instance I of N and reads partitions p with p % N == I of each "
        "topic (assigned statically; each instance keeps its own flush log, so several sinks can share "
        "the work); empty: one sink per group, Kafka assigns it every partition",
    )

    # --- cockpit -------------------------------------------------------------------------------
    cockpit_host: str = "127.0.0.1"
    cockpit_port: int = Field(8050, ge=1, le=65535)
    cockpit_refresh_ms: int = Field(2000, ge=250)
    cockpit_cache_s: float = Field(1.5, ge=0, description="named-query cache shared by viewers")
    cockpit_operators_file: Path | None = Field(None, description="operator users: user:werkzeug-hash per line")
    cockpit_viewer_login: bool = Field(False, description="require the operator login for every page")
    cockpit_secret_key: str | None = Field(None, description="session signing key; random per process if unset")
    cockpit_cookie_secure: bool = Field(False, description="session cookie only over HTTPS")
    cockpit_rotate_s: float = Field(30.0, gt=0, description="wall-screen page rotation interval")
    cockpit_login_max_failures: int = Field(5, ge=1, description="failed logins per user name before a lockout")
    cockpit_login_max_failures_ip: int = Field(
        20, ge=1, description="failed logins per client address before a lockout"
    )
    cockpit_login_window_s: float = Field(300.0, gt=0, description="failures counted within this window")
    cockpit_login_lockout_s: float = Field(900.0, gt=0, description="lockout length after too many failures")

    # --- alerts ----------------------------------------------------------------------------------
    alerts_capacity_per_minute: dict[str, float] = Field(
        default_factory=dict, description='clicks/min per sub-platform, e.g. {"k12": 600000}'
    )
    alerts_capacity_warning: float = Field(0.8, gt=0, le=1)
    alerts_capacity_critical: float = Field(0.95, gt=0, le=1)
    alerts_capacity_lead_time_s: float = Field(3600.0, gt=0, description="alert when the forecast crossing is nearer")
    alerts_surge_k: float = Field(2.0, gt=1)  # issue 18: a x2.5 K-12 closure lifts a province ~2.2x
    alerts_surge_window_min: int = Field(10, ge=1, le=120)
    alerts_surge_for_s: float = Field(60.0, ge=0)  # pending before firing (the detector confirms its onset)
    alerts_hold_s: float = Field(600.0, ge=0)
    calendar_rest_days: str = Field(
        "",
        description="rest days besides weekends, judged by the weekends' shape: DATE, DATE..DATE or "
        "PROVINCE:DATE[..DATE], comma-separated (public holidays, a province's own days off)",
    )
    calendar_school_days: str = Field(
        "", description="weekend days that are school days (make-up days), in the same form"
    )
    calendar_official: bool = Field(
        False,
        description="add the State Council's holidays and make-up days (chinesecalendar) to the alerting's "
        "calendar; off where simulated traffic knows no holidays (the offline replay never adds them)",
    )
    alerts_idle_partition_s: float = Field(
        60.0,
        gt=0,
        description="a caught-up rates partition without events for this long stops holding the alert "
        "clock (longer than a worker restart, so a restarting worker's rows are not judged late)",
    )
    alerts_repeat_s: float = Field(14_400.0, gt=0)
    alerts_max_ahead_s: float = Field(
        3600.0,
        ge=600,
        description="a rates partition further ahead (event time) of the minute being judged is paused "
        "until judging catches up: a backlog is read in step, not into memory",
    )
    alerts_max_gap_s: float = Field(
        6 * 3600.0,
        ge=3600,
        description="a stretch of event time with no rows longer than this is stepped over, not judged",
    )
    alerts_stale_after_days: float = Field(
        28.0,
        ge=1,
        description="after a stretch with no rows longer than this, every baseline is learnt afresh",
    )
    alerts_eval_budget_s: float = Field(
        1.0, gt=0, le=60, description="judging per poll of Kafka at most this long (the rest goes on next poll)"
    )
    alerts_alertmanager_url: str | None = Field(None, description="e.g. http://127.0.0.1:9093")
    alerts_webhook_urls: list[str] = Field(default_factory=list)
    alerts_delivery_queue: int = Field(1000, ge=1)
    alerts_delivery_retries: int = Field(5, ge=0)
    alerts_metrics_port: int = Field(9403, ge=0, le=65535, description="/metrics; 0 disables")

    # --- simulator -----------------------------------------------------------------------------
    simulator_rate: float = Field(2000.0, gt=0, description="events per second")
    simulator_seed: int = 20220314

    # --- issue 12: hostile input (streams) -------------------------------------------------------
    watermark_lead_s: int = Field(
        0,
        ge=0,
        description="an event moves its partition's watermark at most this far "
        "past its record's broker timestamp (a client clock running ahead cannot make "
        "on-time events late)",
    )
    max_decompressed_bytes: int = Field(
        16 * 1024 * 1024,
        ge=65_536,
        description="a compressed record batch larger than this once expanded is "
        "refused (dead-lettered) without being expanded further",
    )
    # --- collector (issue 16: HTTP front door, tracker, access-log import) -----------------------
    collector_host: str = Field("127.0.0.1", description="address edu-collect serves on (0.0.0.0 in containers)")
    collector_port: int = Field(8060, ge=1, le=65535)
    collector_trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"],
        description="CIDRs whose X-Forwarded-For / X-Real-IP are believed; any other peer is the client",
    )
    collector_cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="browser origins allowed to send; '*' = any"
    )
    collector_max_body_bytes: int = Field(262_144, ge=1024, description="request body as sent (413 above)")
    collector_max_decompressed_bytes: int = Field(1_048_576, ge=1024, description="a gzip body's cap once inflated")
    collector_max_batch_events: int = Field(100, ge=1, description="events in one request (413 above)")
    collector_rate_per_address: float = Field(20.0, gt=0, description="requests/s per client address (429 above)")
    collector_rate_burst: float = Field(100.0, ge=1, description="requests one address may send at once")
    collector_spool_dir: Path | None = Field(None, description="journal of accepted events; default DATA_DIR/collector")
    collector_spool_max_bytes: int = Field(
        256 * 1024 * 1024, ge=65_536, description="accepted but not yet in Kafka; 503 above"
    )
    collector_shed_lag_ms: float = Field(
        50.0, ge=0, description="answer 503 while the event loop runs this late (overload); 0 = never"
    )
    collector_fsync_s: float = Field(
        0.0,
        ge=0,
        description="fsync the journal this often; 0 = page cache only (survives a killed collector, not a power cut)",
    )
    collector_salt_file: Path | None = Field(
        None, description="secret of the daily visitor salts; default in the spool dir"
    )
    collector_geo_v6_xdb: Path | None = Field(None, description="an ip2region IPv6 xdb, for provinces of IPv6 clients")
    collector_app_tokens: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["SmartEdu", "zxx-app"],
        description="User-Agent tokens of the platform's own apps (device=app)",
    )
    collector_resource_map: Path | None = Field(None, description="YAML: URL patterns -> platform/section/resource")

    @field_validator("collector_trusted_proxies", "collector_cors_origins", "collector_app_tokens", mode="before")
    @classmethod
    def _collector_lists(cls, v: object) -> object:
        """A JSON list, or plain comma-separated text (as compose files and shells write it)."""
        if isinstance(v, str):
            text = v.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [p.strip() for p in text.split(",") if p.strip()]
        return v

    # --- rehearsals (issue 15: contracts/rehearsal.py, simulators/rehearse.py, cockpit/rehearsal.py) ---
    rehearsal_history_days: int = Field(
        21, ge=0, le=120, description="baseline days written before a rehearsed scenario"
    )
    rehearsal_worker_metrics_port: int = Field(9411, ge=0, le=65535, description="/metrics of a rehearsal's worker")
    rehearsal_alerts_metrics_port: int = Field(9413, ge=0, le=65535, description="/metrics of a rehearsal's alerting")
    rehearsal_sink_metrics_port: int = Field(
        9412, ge=0, le=65535, description="/metrics of a rehearsal's sink (server mode)"
    )
    rehearsal_settle_s: float = Field(
        120.0,
        gt=0,
        description="every run's summary (run, replay, rehearse) waits at most this long for the worker "
        "to catch up (its committed offsets at the run's end offsets); after it, the summary says the "
        "counts are partial",
    )
    # --- issue 12: sink exactly-once through crashes, storage errors ------------------------------
    sink_insert_witness: bool = Field(
        True,
        description="settle a flush step left uncertain by a crash from "
        "the table's parts (non-replicated tables); false: insert it again and "
        "let replicated block deduplication drop the copy",
    )
    sink_fault_step_pause_s: float = Field(
        0.0,
        ge=0.0,
        le=5.0,
        description="fault injection for crash tests only (0 in service): hold each flush this long "
        "between two of its steps, so a kill at a random instant lands inside a flush "
        "(a local ClickHouse server writes a flush in milliseconds)",
    )
    # --- issue 17: cluster and time scale ---------------------------------------------------------
    retention_day_days: int = Field(1830, ge=0, description="clicks_day rollup: days kept (whole months)")
    # --- issue 14: cockpit truth, operators, hardening, chat-robot delivery --------------------
    cockpit_stale_after_s: float = Field(
        180.0, gt=0, description="the pill says Stale when the newest stored minute ended this long ago (wall time)"
    )
    cockpit_secret_key_file: Path | None = Field(
        None, description="session signing key file, generated once (default data_dir/cockpit-secret.key)"
    )
    cockpit_max_request_bytes: int = Field(256 * 1024, ge=1024, description="larger request bodies get 413")
    cockpit_max_report_days: int = Field(92, ge=1, description="longest report / export period in days")
    cockpit_trusted_proxies: int = Field(
        0, ge=0, le=5, description="reverse proxies in front whose X-Forwarded-For is trusted (login throttling)"
    )
    cockpit_silence_durations_s: tuple[int, ...] = Field(
        (15 * 60, 3600, 4 * 3600, 24 * 3600), description="silence lengths the alerts page offers"
    )
    cockpit_surge_highlight: float = Field(2.0, gt=1, description="map highlights divisions at this surge ratio")
    alertmanager_port: int = Field(9093, ge=0, le=65535, description="local Alertmanager (edu-local); 0: none")

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap(cls, v: str) -> str:
        for part in v.split(","):
            host, _, port = part.strip().rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"expected host:port[,host:port], got {v!r}")
        return v

    @field_validator("calendar_rest_days", "calendar_school_days")
    @classmethod
    def _calendar(cls, v: str) -> str:
        parse_days(v)  # CalendarError is a ValueError: the setting is named at start-up
        return v

    @property
    def school_calendar(self) -> SchoolCalendar:
        """The days named here, and the official ones when `calendar_official` is on."""
        named = SchoolCalendar.parse(self.calendar_rest_days, self.calendar_school_days)
        return named.merged(official_calendar()[0]) if self.calendar_official else named

    @field_validator("sink_instance")
    @classmethod
    def _instance(cls, v: str) -> str:
        if v:
            i, n = (int(x) for x in v.split("/"))
            if not 0 <= i < n:
                raise ValueError(f"expected I/N with 0 <= I < N, got {v!r}")
        return v

    @property
    def sink_shard(self) -> tuple[int, int] | None:
        """(I, N) of `sink_instance`, or None for a single sink per group."""
        if not self.sink_instance:
            return None
        i, n = self.sink_instance.split("/")
        return int(i), int(n)

    @model_validator(mode="after")
    def _paths(self) -> Settings:
        if self.sink_instance and self.sink_insert_witness:
            # The witness settles a crashed step by the table's newest part: another writer's parts
            # would pass for ours (measured: clicks lost on one server with two instances).
            raise ValueError(
                "sink_instance needs sink_insert_witness=false: several sinks per group need replicated "
                "tables, whose block deduplication drops a re-inserted step"
            )
        if self.chdb_path is None:
            object.__setattr__(self, "chdb_path", self.data_dir / "chdb")
        return self

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_bootstrap.split(",")[0].rpartition(":")[2])


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (and EDU_SETTINGS_FILE); exit with a clear message if bad."""
    env_file = os.environ.get("EDU_SETTINGS_FILE")
    if env_file and not Path(env_file).is_file():
        raise SettingsError(f"EDU_SETTINGS_FILE={env_file!r}: no such file")
    try:
        return Settings(_env_file=env_file, **overrides)
    except ValidationError as err:
        lines = [
            f"  EDU_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']} (got {e.get('input')!r})"
            for e in err.errors()
        ]
        raise SettingsError("invalid settings:\n" + "\n".join(lines)) from None


def settings_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """The EDU_* environment that reproduces `settings` in a child process (on top of `base`, default
    this process's environment without its EDU_* variables); lists and maps as JSON."""
    import json

    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("EDU_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, bool):
            env[f"EDU_{name.upper()}"] = str(value).lower()
        elif isinstance(value, (dict, list, tuple)):
            env[f"EDU_{name.upper()}"] = json.dumps(value)
        else:
            env[f"EDU_{name.upper()}"] = str(value)
    return env
