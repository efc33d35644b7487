"""A rehearsal: what `edu-simulate rehearse` plays, and where, as the cockpit and the simulator see it.

The record (`Manifest`) crosses processes as a JSON file, `DATA_DIR/rehearsal/current.json`: the
simulator writes it, the cockpit reads it to show the banner, to switch a viewer to the rehearsal's
database and, in local mode (one process owns the chDB path), to run the rehearsal's sink itself.
An isolated rehearsal has its own namespace: topics `<topic>.<id>`, database `<db>_<id>`, consumer
groups `<group>-<id>`; a fresh one per rehearsal, so its clock starts from nothing and the live
stack's topics, groups and tables are never written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import msgspec

from contracts.calendar import CalendarError, SchoolCalendar
from contracts.settings import Settings, settings_env

Target = Literal["live", "isolated"]
Status = Literal["running", "finished", "ended"]


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # "rh" + hex: part of topic, group and database names
    scenario: str
    target: Target
    speed: float
    scale: float
    shift_ms: int  # added to the scenario's times: a whole number of weeks, so weekdays stay
    started_ms: int  # wall clock at the start
    paced_from_ms: int  # (shifted) event time from which the scenario plays at `speed`
    end_ms: int  # (shifted) event time where the scenario ends
    status: Status = "running"
    drop: bool = False  # with status "ended": the rehearsal's database and topics go too
    pids: tuple[int, ...] = ()  # the rehearsal's worker and alerting processes (isolated)
    # the (shifted) scenario's holidays and make-up school days, as calendar text: its alerting and
    # the cockpit's baselines judge them as the scenario draws them
    rest_days: str = ""
    school_days: str = ""

    @property
    def database_suffix(self) -> str:
        return f"_{self.id}"

    @property
    def calendar(self) -> SchoolCalendar:
        return SchoolCalendar.parse(self.rest_days, self.school_days)


_dec = msgspec.json.Decoder(Manifest)
_enc = msgspec.json.Encoder()


def rehearsal_dir(settings: Settings) -> Path:
    return settings.data_dir / "rehearsal"


def manifest_path(settings: Settings) -> Path:
    return rehearsal_dir(settings) / "current.json"


def sink_marker(settings: Settings, rehearsal_id: str) -> Path:
    """Exists while a cockpit process runs the sink of that rehearsal (local chDB mode)."""
    return rehearsal_dir(settings) / f"{rehearsal_id}.sink"


def decode_manifest(raw: bytes) -> Manifest | str:
    """The manifest, or the reason these bytes are not one (never raises)."""
    try:
        m = _dec.decode(raw)
        m.calendar  # noqa: B018 -- its days must read, or the cockpit could not use them
    except (msgspec.DecodeError, msgspec.ValidationError, CalendarError) as err:
        return f"not a rehearsal manifest: {err}"
    return m


def read_manifest(settings: Settings) -> Manifest | str | None:
    """None when no rehearsal was started here; a reason string when the file is unreadable."""
    try:
        raw = manifest_path(settings).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        return f"{manifest_path(settings)}: {err}"
    return decode_manifest(raw)


def write_manifest(settings: Settings, manifest: Manifest) -> None:
    """Atomically (rename), so a reader never sees half a file."""
    path = manifest_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(_enc.encode(manifest))
    tmp.replace(path)


def namespace(settings: Settings, rehearsal_id: str) -> Settings:
    """The settings of an isolated rehearsal: every topic, group, database and metrics port its own."""
    suffix = f".{rehearsal_id}"
    return settings.model_copy(
        update={
            "topic_clicks": settings.topic_clicks + suffix,
            "topic_sessions": settings.topic_sessions + suffix,
            "topic_rates": settings.topic_rates + suffix,
            "topic_session_rates": settings.topic_session_rates + suffix,
            "topic_deadletter": settings.topic_deadletter + suffix,
            "topic_alerts": settings.topic_alerts + suffix,
            "clickhouse_database": f"{settings.clickhouse_database}_{rehearsal_id}",
            "worker_id": f"{settings.worker_id}-{rehearsal_id}",
            "sink_group": f"{settings.sink_group}-{rehearsal_id}",
            "worker_metrics_port": settings.rehearsal_worker_metrics_port,
            "alerts_metrics_port": settings.rehearsal_alerts_metrics_port,
            "sink_metrics_port": settings.rehearsal_sink_metrics_port,
        }
    )


def rehearsal_settings(settings: Settings, manifest: Manifest) -> Settings:
    """Where a rehearsal's data is: its own namespace, or the live one."""
    return namespace(settings, manifest.id) if manifest.target == "isolated" else settings


def to_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """The EDU_* environment that reproduces `settings` in a child process."""
    return settings_env(settings, base)
