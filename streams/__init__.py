"""Faust stream workers: validate events, window them by event time, emit per-minute aggregates."""
