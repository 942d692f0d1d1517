"""Freed block temporaries kept in the heap rather than handed back to the kernel at every LM step.

Each LM step on a block of curves allocates and frees a dozen arrays of 1-6 MB. glibc serves a
request above its mmap threshold (128 KiB in a fresh process) with mmap and unmaps it on free, and
gives the heap's top back to the kernel once more than twice the threshold is free there; the next
step then page-faults the same memory in again. On 1,000 curves of 1,000 points that was 555k page
faults and a quarter of fit_batch's CPU time (docs/fit_profile.md). glibc raises both thresholds by
itself when it unmaps a block of up to 32 MiB: a process that has freed any array that large (4,000
curves of 1,000 points) already runs the fit without the faults, and one that has not ran 1.3x
slower. `keep_freed_blocks` frees one untouched block of that size, once per process, so that every
process runs the same way. What it costs: up to 64 MiB of freed memory may stay with the process
rather than go back to the kernel. Thresholds fixed by the user (mallopt, MALLOC_*_ variables) stay
as they are: glibc does not move a fixed one. Elsewhere than glibc this is one allocation and one free.
"""

from __future__ import annotations

import functools

import numpy as np

# glibc's ceiling for its dynamic threshold on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX); the
# block stays a MiB under it, as the allocator adds its header and rounds up to whole pages
DYNAMIC_THRESHOLD_MAX = 32 * 1024 * 1024
HINT_BYTES = DYNAMIC_THRESHOLD_MAX - 1024 * 1024


@functools.cache
def keep_freed_blocks() -> None:
    """Once per process: allocate and free a block just under glibc's ceiling (never written to,
    so no page of it is touched)."""
    np.empty(HINT_BYTES, dtype=np.uint8)
