"""Hold off Python's cyclic garbage collector while a report allocates in bulk.

Reading an hour of timeline makes ~100k records, and analysing it many more small objects,
none of them in reference cycles: reference counting frees them all. Each time enough
allocations pile up, though, the cyclic collector walks every live object again -- about
a tenth of a report's time. Pausing it is the standard remedy (``gc.freeze`` would
also work, but is global and permanent).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block (nesting is fine); restore it after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
