"""Process tuning of the worker: collector thresholds and glibc's mmap threshold are really set."""

from __future__ import annotations

import gc
import platform

import pytest

from streams.runtime import GEN0_THRESHOLD, fix_mmap_threshold, tune_gc


def test_tune_gc_freezes_start_up_objects_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold()[0] == GEN0_THRESHOLD
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_mmap_threshold_is_fixed_on_glibc() -> None:
    assert fix_mmap_threshold() is True
