#!/usr/bin/env bash
# The README's first command: install everything, then run Kafka, the worker, the sink, the cockpit
# and a live simulator on this machine. Ctrl-C stops all of it. Extra arguments go to edu-local.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ops/install.sh
exec .venv/bin/edu-local "$@"
