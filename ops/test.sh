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
# Two test workers (pytest-xdist), whole files each: the operator journey (minutes of wall time,
# mostly a launched stack waiting on the wall clock) starts first and the other tests run beside it
# (tests/conftest.py orders and groups them). Then the tests marked `alone`, with nothing beside
# them: the rehearsal journey (its bound is 10 minutes of wall time) and the local cluster's fault
# tests (nine server processes and timed faults; once, with other tests beside it, a ZooKeeper
# restart left one batch twice in the hourly rollup: docs/exactly-once.md, "What is left").
.venv/bin/python -m pytest --headless -p no:cacheprovider -n 2 --dist loadfile --no-loadscope-reorder -m "not alone" "$@"
rc=$?
.venv/bin/python -m pytest --headless -p no:cacheprovider -m alone "$@"
rc_alone=$?
set -e
# 5: no test collected (e.g. arguments that name no such test): a failure only if neither part ran any
if [ "$rc" -eq 5 ] && [ "$rc_alone" -eq 5 ]; then echo "no tests were collected: that is a failure here" >&2; exit 1; fi
[ "$rc" -eq 5 ] && rc=0
[ "$rc_alone" -eq 5 ] && rc_alone=0
if [ "$rc" -ne 0 ]; then exit "$rc"; fi
exit "$rc_alone"
