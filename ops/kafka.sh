#!/usr/bin/env bash
# Local single-node Kafka broker for dev/tests/CI: fetch | start [--detach] | stop | status.
# Thin wrapper so shell scripts need not know the module path; see ops/kafka_local.py.
#   ops/kafka.sh start --detach --port 19092 --controller-port 19093
# Uses $PYTHON if set (e.g. a venv's python), else python3.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# PYTHONPATH rather than cd, so relative paths like --data-dir keep meaning the caller's cwd.
export PYTHONPATH="$repo_root${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python3}" -m ops.kafka_local "$@"
