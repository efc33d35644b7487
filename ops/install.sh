#!/usr/bin/env bash
# Install everything the project needs on a fresh Debian machine (idempotent, quick when done):
# Debian packages (ClickHouse server, Prometheus, Alertmanager, Chromium + driver, docker-compose,
# CJK fonts), a virtualenv at .venv with the pinned Python packages, and the Kafka broker jars.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(clickhouse-server clickhouse-client prometheus prometheus-alertmanager chromium wrk
              chromium-driver docker-compose fonts-noto-cjk default-jre-headless maven)
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "==> pip install (pinned by constraints.txt)"
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[test]'
  rm -f .venv/.installed-*; touch "$stamp"
fi

echo "==> the alert detectors, compiled (mypyc; quick when up to date)"
.venv/bin/python -m ops.build_native
echo "==> Kafka jars"
.venv/bin/python -m ops.kafka_local fetch >/dev/null
echo "==> ZooKeeper jars (the local ClickHouse cluster, edu-local --cluster)"
.venv/bin/python -c "from ops.zookeeper_local import fetch; fetch()"
echo "==> installed"
