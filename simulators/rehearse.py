"""A scenario played now: its times shifted to the present, its history first, its story at xN.

Time rule. The worker refuses events more than `max_future_s` ahead of the wall clock, and a clock
pushed ahead would make real traffic late afterwards, so a rehearsal never writes an event ahead of
the wall clock: the scenario is shifted by whole weeks (weekday curves and daily totals stay the
seed's) so that, played at xN from the rehearsal's start, its last minute arrives no later than the
wall clock does. Everything before `paced_from` (the `history_days` of baseline before the scenario,
then the scenario up to its first event's day) is written first, as fast as it goes, in event-time
order: the watermark follows event time per partition, so a namespace whose clock is behind the
history accepts all of it, and the detectors have their baselines when the story starts.
"""

from __future__ import annotations

import dataclasses
import math
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from contracts.calendar import format_days
from contracts.rehearsal import Manifest, namespace, read_manifest, sink_marker, to_env, write_manifest
from contracts.settings import Settings
from simulators.pacing import Schedule
from simulators.scenario import Scenario

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS


class RehearsalError(RuntimeError):
    """A rehearsal cannot start or end as asked; the message says why and what to do."""


def shifted(sc: Scenario, delta_ms: int) -> Scenario:
    """The scenario with every time moved by `delta_ms`."""
    events = tuple(
        dataclasses.replace(e, start_ms=e.start_ms + delta_ms, end_ms=None if e.end_ms is None else e.end_ms + delta_ms)
        for e in sc.events
    )
    return dataclasses.replace(sc, start_ms=sc.start_ms + delta_ms, end_ms=sc.end_ms + delta_ms, events=events)


def story_start(sc: Scenario) -> int:
    """Where the interesting part starts: the day (UTC+8) of the first event that is not a launch, or
    the scenario's start."""
    starts = [e.start_ms for e in sc.events if e.type != "launch" and e.start_ms > sc.start_ms]
    if not starts:
        return sc.start_ms
    first = min(starts)
    day = (first + 8 * 3600_000) // DAY_MS * DAY_MS - 8 * 3600_000
    return max(sc.start_ms, day)


def history_needed(sc: Scenario, days: float) -> float:
    """`days`, or 0 when every platform of the scenario is launched at its start (nothing before it
    to write; the empty days would only cost the alerting's evaluation of every minute)."""
    active = {p for p, w in sc.platforms.items() if w > 0}
    launched = set()
    for e in sc.events:
        if e.type == "launch" and e.start_ms <= sc.start_ms:
            launched |= active if e.platforms is None else set(e.platforms)
    return 0.0 if active and active <= launched else days


@dataclass(frozen=True)
class Plan:
    scenario: Scenario  # shifted
    shift_ms: int
    history_from_ms: int  # first event time written (shifted)
    paced_from_ms: int  # from here on at xN (shifted)
    end_ms: int  # (shifted)
    speed: float

    @property
    def paced_wall_s(self) -> float:
        return (self.end_ms - self.paced_from_ms) / 1000 / self.speed


def plan(
    sc: Scenario,
    *,
    speed: float,
    now_ms: int,
    history_days: float,
    paced_from_ms: int | None = None,
    until_ms: int | None = None,
) -> Plan:
    """Shift by whole weeks so the scenario's end (or `until_ms`, a moment to stop at and hold on
    screen), played at xN from now, is not ahead of the wall clock."""
    if speed < 1:
        raise RehearsalError("--speed must be >= 1: slower than real time would run ahead of the wall clock")
    frm = story_start(sc) if paced_from_ms is None else paced_from_ms
    end = sc.end_ms if until_ms is None else until_ms
    if not sc.start_ms < end <= sc.end_ms:
        raise RehearsalError(f"--until must lie within the scenario ({fmt_ms(sc.start_ms)} .. {fmt_ms(sc.end_ms)})")
    frm = min(frm, end - 60_000)
    if not sc.start_ms <= frm:
        raise RehearsalError("the paced part must start within the scenario")
    latest_end = now_ms + (end - frm) / speed
    weeks = math.floor((latest_end - end) / WEEK_MS)
    shift = weeks * WEEK_MS
    history = history_needed(sc, history_days)
    return Plan(shifted(sc, shift), shift, sc.start_ms + shift - int(history * DAY_MS), frm + shift, end + shift, speed)


def parse_when(text: str) -> int:
    """'2022-03-25 10:30' or ISO 8601; without an offset, Beijing time. Epoch ms."""
    import datetime as dt

    try:
        t = dt.datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise RehearsalError(f"not a date and time: {text!r} (e.g. 2022-03-25 10:30)") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return int(t.timestamp() * 1000)


class RehearsalSchedule(Schedule):
    """Due times: at once before `paced_from_ms` (history), then event time / speed from the moment the
    first paced message comes up. `clock` must be the send loop's clock."""

    def __init__(self, speed: float, paced_from_ms: int, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(speed=speed)
        self.paced_from_ms = paced_from_ms
        self._clock = clock
        self._t_first: float | None = None
        self._paced_at: float | None = None  # elapsed s when the story started
        self._paced_max = paced_from_ms

    def due(self, sent_events: int, event_ts: int) -> float:
        now = self._clock()
        if self._t_first is None:
            self._t_first = now
        if event_ts < self.paced_from_ms:
            return now - self._t_first
        if self._paced_at is None:
            self._paced_at = now - self._t_first
        self._paced_max = max(self._paced_max, event_ts)
        return self._paced_at + (self._paced_max - self.paced_from_ms) / 1000.0 / self.speed  # type: ignore[operator]


# --------------------------------------------------------------------------- the pipeline's clock
class _Clock(msgspec.Struct):
    watermark_ms: int


def pipeline_clock_ms(settings: Settings, timeout_s: float = 10.0) -> int | None:
    """The newest watermark over the rates topic's partitions (the stack's event-time clock), or None
    when nothing was ever processed."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap.split(","),
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=int(timeout_s * 1000),
    )
    try:
        parts = consumer.partitions_for_topic(settings.topic_rates) or set()
        tps = [TopicPartition(settings.topic_rates, p) for p in sorted(parts)]
        if not tps:
            return None
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        begins = consumer.beginning_offsets(tps)
        want = {tp for tp in tps if ends[tp] > begins[tp]}
        for tp in want:
            consumer.seek(tp, ends[tp] - 1)
        best: int | None = None
        deadline = time.monotonic() + timeout_s
        while want and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                if tp in want and records:
                    want.discard(tp)
                    try:
                        wm = msgspec.json.decode(records[-1].value, type=_Clock).watermark_ms
                    except (msgspec.DecodeError, msgspec.ValidationError) as err:
                        raise RehearsalError(
                            f"{tp.topic}[{tp.partition}]: last record is not a rate batch: {err}"
                        ) from None
                    best = wm if best is None else max(best, wm)
        if want:
            raise RehearsalError(
                f"could not read the last rate batch of {sorted(tp.partition for tp in want)} "
                f"of {settings.topic_rates} in {timeout_s:.0f}s"
            )
        return best
    finally:
        consumer.close()


def check_live_clock(settings: Settings, first_event_ms: int) -> None:
    """The live target takes history only if the stack's clock is behind it (a stack with no traffic)."""
    clock = pipeline_clock_ms(settings)
    if clock is not None and first_event_ms < clock - settings.allowed_lateness_s * 1000:
        raise RehearsalError(
            f"the live stack's clock is at {fmt_ms(clock)}, ahead of the rehearsal's first events "
            f"({fmt_ms(first_event_ms)}): they would be dropped as late. Rehearse with --target isolated, "
            "or on a stack without traffic (`bash ops/up.sh --no-simulator` on a fresh data directory)."
        )


def fmt_ms(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000 + 8 * 3600)) + "+08"


# --------------------------------------------------------------------------- isolated namespace
def new_id() -> str:
    return "rh" + secrets.token_hex(3)


def _spawn(module: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module], stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def announced(sc: Scenario) -> tuple[str, str]:
    """(rest days, school days): the manifest's calendar text for a (shifted) scenario's holidays
    and make-up days."""
    cal = sc.calendar()
    return format_days(cal.rest), format_days(cal.school)


def isolated_settings(settings: Settings, manifest: Manifest) -> Settings:
    """The rehearsal's namespace, with the scenario's days added to its calendar as a deployment's
    settings would name them (a holiday is announced before it comes)."""
    ns = namespace(settings, manifest.id)
    cal = ns.school_calendar.merged(manifest.calendar)
    return ns.model_copy(
        update={"calendar_rest_days": format_days(cal.rest), "calendar_school_days": format_days(cal.school)}
    )


def start_isolated(settings: Settings, manifest: Manifest, logs: Path) -> list[subprocess.Popen[bytes]]:
    """Create the rehearsal's topics; start its worker and alerting (and, with a ClickHouse server, its
    sink) as processes of their own. With chDB the cockpit that owns the store runs the sink."""
    from contracts.topics import ensure_topics

    ns = isolated_settings(settings, manifest)
    ensure_topics(ns)
    logs.mkdir(parents=True, exist_ok=True)
    env = to_env(ns)
    mods = ["streams.cli", "alerts.cli"] + (["sinks.cli"] if settings.clickhouse_engine == "server" else [])
    return [_spawn(m, env, logs / f"{manifest.id}-{m.split('.')[0]}.log") for m in mods]


def wait_ready(
    settings: Settings, manifest: Manifest, procs: list[subprocess.Popen[bytes]], timeout_s: float = 90.0
) -> None:
    """Wait until the rehearsal's worker serves /metrics (the summary reads it) and, with chDB, a
    cockpit process runs the rehearsal's sink (it reads the manifest)."""
    url = f"http://127.0.0.1:{settings.rehearsal_worker_metrics_port}/metrics"
    deadline = time.monotonic() + timeout_s
    worker = sink = False
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RehearsalError(
                    f"a rehearsal service (pid {p.pid}) exited with {p.returncode}; see {settings.data_dir / 'logs'}"
                )
        worker = worker or _http_ok(url)
        sink = sink or settings.clickhouse_engine != "chdb" or sink_marker(settings, manifest.id).exists()
        if worker and sink:
            return
        time.sleep(0.2)
    if not worker:
        raise RehearsalError(f"the rehearsal's worker did not serve {url} within {timeout_s:.0f}s")
    raise RehearsalError(
        f"no cockpit started the rehearsal's sink within {timeout_s:.0f}s: with chDB the "
        "cockpit that owns the store (`edu-cockpit --with-sink`, as `bash ops/up.sh` runs it) "
        f"must use the same data directory ({settings.data_dir})"
    )


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


SERVICE_MODULES = ("streams.cli", "alerts.cli", "sinks.cli")


def _ours(pid: int) -> bool:
    """Still one of the rehearsal's services (a pid may have been reused since the manifest was written)."""
    import psutil

    try:
        cmd = psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return any(m in cmd for m in SERVICE_MODULES)


def stop_pids(pids: tuple[int, ...], timeout_s: float = 30.0) -> None:
    """SIGTERM the rehearsal's own services (their pids are in the manifest), then wait; SIGKILL after."""
    pids = tuple(p for p in pids if _ours(p))
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)  # each was started as the leader of its own session
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + timeout_s
    for pid in pids:
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    import psutil

    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our child, now reaped
            return False
    except ChildProcessError:
        pass  # not our child (rehearse-end, the launcher): its parent reaps it
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def end(settings: Settings, *, drop: bool, timeout_s: float = 60.0) -> Manifest:
    """End the current rehearsal: stop its services; with `drop`, its database and topics go too.
    The live namespace is never touched."""
    m = read_manifest(settings)
    if m is None:
        raise RehearsalError(f"no rehearsal in {settings.data_dir}")
    if isinstance(m, str):
        raise RehearsalError(m)
    stop_pids(m.pids)
    m = msgspec.structs.replace(m, status="ended", drop=drop and m.target == "isolated", pids=())
    write_manifest(settings, m)
    if m.drop:
        ns = namespace(settings, m.id)
        if settings.clickhouse_engine == "chdb":
            deadline = time.monotonic() + timeout_s  # the cockpit that runs its sink drops the database
            while sink_marker(settings, m.id).exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            if sink_marker(settings, m.id).exists():
                raise RehearsalError("the cockpit did not stop the rehearsal's sink; its database is kept")
        else:
            from sinks.store import open_store

            store = open_store(ns)
            try:
                store.drop_database()
            finally:
                store.close()
        _delete_topics(ns)
    return m


def _delete_topics(ns: Settings) -> None:
    from kafka import KafkaAdminClient
    from kafka.errors import UnknownTopicOrPartitionError

    from contracts.topics import topic_specs

    admin = KafkaAdminClient(bootstrap_servers=ns.kafka_bootstrap.split(","), client_id="edu-rehearsal")
    try:
        existing = set(admin.list_topics())
        gone = [t for t in topic_specs(ns) if t in existing]
        if gone:
            try:
                admin.delete_topics(gone)
            except UnknownTopicOrPartitionError:
                pass  # deleted meanwhile
    finally:
        admin.close()
