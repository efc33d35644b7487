"""Private, loopback-only Prometheus Alertmanager for development, tests and CI.

Debian's ``prometheus-alertmanager`` started directly (not by systemd): storage under ``data_dir``,
web API on loopback, clustering off (``--cluster.listen-address=``); ready when ``/-/ready`` is 200.

Usage::

    from ops.alertmanager_local import LocalAlertmanager
    with LocalAlertmanager(Path("/tmp/am"), port=19093) as am:
        am.post_alerts([{"labels": {"alertname": "X"}}])
        am.alerts()

    python -m ops.alertmanager_local start|status|stop --data-dir D [--port P --config F --detach]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ops.local_process import LocalServerProcess, port_accepts, run_cli_action, server_cli_parser

__all__ = ["DEFAULT_CONFIG", "LocalAlertmanager", "find_alertmanager"]

# Routes everything to a receiver with no integrations: alerts are accepted,
# grouped and visible through the API, but nothing is sent anywhere.
DEFAULT_CONFIG = """\
# Written by ops/alertmanager_local.py: accept alerts, notify nobody.
route:
  receiver: "null"
  group_by: ["alertname"]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: "null"
"""


def find_alertmanager() -> str:
    """Path of the Alertmanager binary (Debian name first; env ALERTMANAGER_BIN wins)."""
    env = os.environ.get("ALERTMANAGER_BIN")
    if env:
        return env
    for candidate in ("prometheus-alertmanager", "alertmanager"):
        path = shutil.which(candidate)
        if path:
            return path
    raise FileNotFoundError(
        "prometheus-alertmanager not found (apt-get install prometheus-alertmanager, or set ALERTMANAGER_BIN)"
    )


class LocalAlertmanager(LocalServerProcess):
    """An Alertmanager whose state lives in ``data_dir`` and that listens on loopback.

    ``config_path`` None writes ``DEFAULT_CONFIG`` to ``data_dir/alertmanager.yml``.
    Layout: ``data/`` (--storage.path: silences, nflog), ``logs/``, pid file.
    """

    name = "alertmanager"

    def __init__(
        self,
        data_dir: Path,
        port: int,
        config_path: Path | None = None,
        host: str = "127.0.0.1",
        *,
        binary: str | None = None,
        log_level: str = "info",
        extra_args: Sequence[str] = (),
    ) -> None:
        super().__init__(data_dir, host)
        self.port = int(port)
        self._config_path = Path(config_path).resolve() if config_path else None
        self._binary = binary
        self.log_level = log_level
        self.extra_args = list(extra_args)

    @property
    def config_path(self) -> Path:
        return self._config_path or self.data_dir / "alertmanager.yml"

    @property
    def storage_path(self) -> Path:
        return self.data_dir / "data"

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:19093 (API under /api/v2/)."""
        return f"http://{self.url_host}:{self.port}"

    def ports(self) -> list[int]:
        return [self.port]

    def cmdline_marker(self) -> str:
        return f"--storage.path={self.storage_path}"

    def command(self) -> list[str]:
        return [
            self._binary or find_alertmanager(),
            f"--config.file={self.config_path}",
            f"--storage.path={self.storage_path}",
            f"--web.listen-address={self.url_host}:{self.port}",
            "--cluster.listen-address=",  # empty: no gossip listener on :9094
            f"--log.level={self.log_level}",
            *self.extra_args,
        ]

    def prepare(self) -> None:
        self.storage_path.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self._config_path is None:
            self.config_path.write_text(DEFAULT_CONFIG)
        elif not self._config_path.is_file():
            raise FileNotFoundError(f"Alertmanager config not found: {self._config_path}")

    def is_up(self, timeout: float = 1.0) -> bool:
        """True if ``GET /-/ready`` answers 200."""
        if not port_accepts(self.host, self.port, timeout=min(timeout, 0.5)):
            return False
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=timeout) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    # -- small API helpers (v2) ---------------------------------------------
    def _request(self, method: str, path: str, body: Any = None, timeout: float = 5.0) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def post_alerts(self, alerts: list[dict[str, Any]], timeout: float = 5.0) -> None:
        """POST /api/v2/alerts (each alert: labels, annotations, startsAt, ...)."""
        self._request("POST", "/api/v2/alerts", alerts, timeout)

    def alerts(self, timeout: float = 5.0, **filters: str) -> list[dict[str, Any]]:
        """GET /api/v2/alerts; ``filters`` become query args (e.g. active='true')."""
        query = "&".join(f"{k}={urllib.parse.quote(v)}" for k, v in filters.items())
        return self._request("GET", "/api/v2/alerts" + (f"?{query}" if query else ""), timeout=timeout)


def _add_ports(p: argparse.ArgumentParser, action: str) -> None:
    p.add_argument("--port", type=int, required=action != "stop", help="web/API port")


def _add_start_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None, help="alertmanager.yml (default: accept, notify nobody)")


def build_parser() -> argparse.ArgumentParser:
    return server_cli_parser(
        "python -m ops.alertmanager_local",
        "Run a private, loopback-only Alertmanager whose state lives in --data-dir.",
        {
            "start": "start Alertmanager (foreground unless --detach) or reuse one answering on --port",
            "stop": "stop an Alertmanager started with --detach for this --data-dir",
            "status": "exit 0 if GET /-/ready answers 200 on --port, else 3",
        },
        data_dir_help="directory for storage, config and logs",
        add_ports=_add_ports,
        add_start_options=_add_start_options,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    am = LocalAlertmanager(args.data_dir.resolve(), args.port or 9093, getattr(args, "config", None), args.host)
    return run_cli_action(am, args, f"url={am.url}")


if __name__ == "__main__":
    sys.exit(main())
