"""Traffic simulators for load tests and rehearsals.

Layout, top to bottom: reference data (`data/`), the traffic model (`model.py`, `catalogue.py`),
scenarios as data files (`scenarios/*.yaml`, loaded and validated by `scenario.py`), the pure seeded
generator (`generator.py`), ground truth (`truth.py`), outputs (`files.py`, `kafka_out.py`), the
open-loop send loop (`pacing.py`, `runner.py`) and the `edu-simulate` command (`cli.py`).
Only the send loop touches clocks and sockets; everything above it is a pure function of its seed.
"""
