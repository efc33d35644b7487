#!/usr/bin/env bash
# The README's first command: install everything, then run Kafka, the worker, the sink, the cockpit
# and a live simulator on this machine. Ctrl-C stops all of it. Extra arguments go to edu-local.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ops/install.sh
# Operators sign in to acknowledge and silence alerts; the first one is created with
#   .venv/bin/edu-cockpit operators add NAME      (password prompted, stored as a scrypt hash)
# edu-local prints this again while no operator exists.
echo "==> operators: .venv/bin/edu-cockpit operators add NAME  (password prompted; see README)"
exec .venv/bin/edu-local "$@"
