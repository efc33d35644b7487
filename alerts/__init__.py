"""Alerting: seasonal baselines, surge/drop/anomaly detectors, capacity forecasts, explanations, an
Alertmanager-style lifecycle, delivery and Prometheus metrics.

Pure parts, so detection runs inside a stream worker, replays at 60x event time and is tested without
Kafka: detectors are fed one point at a time (O(1) per point), rules take the clock as an argument,
and delivery runs apart on its own thread behind a bounded queue. The flow: baseline -> detectors ->
engine -> lifecycle -> delivery; the main modules are listed in bench/README.md ("What is where").
"""

from alerts.native import use_sources_if_stale

NATIVE = use_sources_if_stale()  # "compiled", "source" or "stale" (see alerts/native.py)
