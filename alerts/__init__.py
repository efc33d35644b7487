"""Alerting: seasonal baselines, surge/drop/anomaly detectors, capacity forecasts, explanations, an
Alertmanager-style lifecycle, delivery and Prometheus metrics.

Why a package of pure parts: detection must run inside a stream worker at the rate of the rates topic,
be replayable at 60x event time, and be testable without Kafka. So detectors are objects fed one point
at a time (O(1) per point from per-series state), rules take the clock as an argument, and delivery
runs apart from detection on its own thread behind a bounded queue.

Modules, top to bottom of the flow:
    memory      bounded sorted value memory (nearest-seen-value distance)
    baseline    robust seasonal baseline (time of day x day of week) with an expected band
    anomaly     the general anomaly score in [0, 1] (`AnomalyScorer`)
    detectors   surge and drop/outage conditions per series
    capacity    utilisation levels and trend+season forecast of the capacity crossing
    explain     contributors to a national/platform deviation, with shares
    model       alert identity (fingerprint of labels), severity, state
    lifecycle   inactive -> pending -> firing -> resolved, repeat suppression, acks, silences
    engine      per-minute rates -> series -> detectors -> lifecycle -> notifications
    delivery    Alertmanager v2 and webhook receivers behind a bounded queue and a thread
    metrics     prometheus-client metrics with bounded labels
    score_csv   `python -m alerts.score_csv FILE.csv`: one anomaly score per row
"""
