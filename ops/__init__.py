"""Operational helpers (local services for development, tests and CI)."""
