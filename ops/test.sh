#!/usr/bin/env bash
# The README's second command (and what .ci/run calls): install everything, check lint, format and
# types (ruff, mypy), then run the whole suite: unit tests, integration tests on real Kafka / ClickHouse / Alertmanager (started by the
# fixtures), and the browser tests in headless Chromium. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ops/install.sh
echo "==> ruff (lint, format) and mypy"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
set +e
# Two test workers (pytest-xdist), whole files each: the journeys (tests marked `journey`, minutes of
# wall time each, mostly a launched stack working or waiting on the wall clock) start first, one per
# worker, and the other tests run beside them (tests/conftest.py orders and groups them).
.venv/bin/python -m pytest --headless -p no:cacheprovider -n 2 --dist loadfile --no-loadscope-reorder "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "no tests were collected: that is a failure here" >&2; exit 1; fi
exit "$rc"
