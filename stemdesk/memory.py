"""Process-wide memory policy for long-running separations."""

import ctypes
import ctypes.util

# glibc's mallopt parameter that fixes the size above which allocations are
# served by mmap (and so returned to the OS on free).
_M_MMAP_THRESHOLD = -3
_THRESHOLD_BYTES = 256 * 1024


def return_large_allocations_to_os() -> bool:
    """Make freed large arrays go back to the OS instead of staying in the heap.

    glibc raises its mmap threshold each time a large block is freed, so
    after the first chunk every chunk-sized temporary (tens of MB of spectra)
    is carved from the heap and kept there after use: a 3.6-minute song then
    peaks above 1.1 GB of RSS. Fixing the threshold keeps it near 0.6 GB
    (benchmarks/bench_separation.py). A no-op returning False off glibc.
    """
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _THRESHOLD_BYTES))
