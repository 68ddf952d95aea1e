"""Drawing and saving a figure without Python's cyclic garbage collector running in between.

Drawing the print map creates tens of thousands of short-lived matplotlib objects. In the
forked map writer, these allocations trigger full collections, and each one walks (and, after
``fork``, copies page by page) every object the child inherited from the parent: about 0.1
CPU-s per collection for the default scenario, the same order as drawing the map itself.
:func:`paused_gc` switches the collector off for one call and restores it afterwards; reference
counting still frees everything that is not in a cycle, and the cycles left (a few figures'
worth) are collected by the next collection after the call. What is drawn does not change.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def paused_gc(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` with the cyclic garbage collector off (restored to its state on return).

    Examples
    --------
    >>> import gc
    >>> @paused_gc
    ... def collecting() -> bool:
    ...     return gc.isenabled()
    >>> collecting(), gc.isenabled()
    (False, True)
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return wrapper
