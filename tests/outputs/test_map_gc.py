"""``paused_gc`` switches the cyclic collector off for one call only."""

from __future__ import annotations

import gc

import pytest

from siteopt.outputs.map_gc import paused_gc


@paused_gc
def _state(fail: bool = False) -> bool:
    if fail:
        raise ValueError("boom")
    return gc.isenabled()


def test_off_during_the_call_restored_after_it_even_on_error() -> None:
    assert gc.isenabled()
    assert _state() is False and gc.isenabled()
    with pytest.raises(ValueError, match="boom"):
        _state(fail=True)
    assert gc.isenabled()


def test_a_collector_already_off_stays_off() -> None:
    gc.disable()
    try:
        assert _state() is False and not gc.isenabled()
    finally:
        gc.enable()
