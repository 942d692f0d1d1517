"""Euclidean projection onto the probability simplex, every row at once, on the rows' device."""

from __future__ import annotations

import torch

# Rows projected together: their float64 working copies (a few rows x N each) stay in the CPU's
# cache. 128 rows of the paper's N = 4096 take 0.10 s for a 2000-row policy, 1024 rows 0.43 s: past
# the cache every pass is a fresh allocation's page faults (bench/perceptron_iteration.py).
_ROWS_PER_PASS = 128


def row_blocks(n_rows: int) -> list[slice]:
    """Slices of _ROWS_PER_PASS rows: work on a T x N policy done a block at a time stays in cache."""
    return [slice(start, start + _ROWS_PER_PASS) for start in range(0, n_rows, _ROWS_PER_PASS)]


def all_finite(t: torch.Tensor) -> bool:
    """Whether every entry is finite, from one sum where it is (a NaN or an infinity makes the sum
    non-finite; a sum that overflows on its own is checked entry by entry): isfinite's bool copy
    of a whole policy costs more than the projection."""
    return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


def project_to_simplex(v: torch.Tensor) -> torch.Tensor:
    """argmin_{w >= 0, sum w = 1} ||w - v||_2 for each row of v (..., N), in v's dtype.

    Exact (Michelot 1986: the same result as the sort-based algorithm of Held et al. and Duchi et
    al. 2008), vectorised over rows, no Python loop over entries and no QP solver. At any scale:
    each row is first shifted by its maximum (the projection is shift-invariant), so the entries
    that can stay positive are O(1) whatever the scale of v, and the sums run in float64. After
    the shift the top entry is 0 > tau, so at least one entry is always kept.
    """
    if not all_finite(v):
        raise ValueError("project_to_simplex: the input has non-finite entries")
    shape = v.shape
    rows = v.reshape(-1, shape[-1])
    out = torch.empty_like(rows)
    for block in row_blocks(rows.shape[0]):
        out[block] = _project_rows(rows[block].to(torch.float64)).to(v.dtype)
    return out.reshape(shape)


def _project_rows(v: torch.Tensor) -> torch.Tensor:
    """Michelot's active-set iteration: tau = (sum of the active entries - 1) / their count, with
    the active set (entries above tau) shrinking until it stops changing; the result is exact,
    as the sort's. No sort: a few passes of O(N) per row (2-8 from a policy step); in cache-sized
    blocks 8.5x faster than sorting every row of the paper's T x N policy (bench/perceptron_iteration.py)."""
    shifted = v - v.amax(dim=-1, keepdim=True)  # top entry exactly 0, so it stays active
    tau = (shifted.sum(dim=-1, keepdim=True) - 1.0) / v.shape[-1]  # every entry active: a lower bound
    count = torch.full_like(tau, float(v.shape[-1]))
    for _ in range(v.shape[-1]):
        active = shifted > tau
        new_count = torch.count_nonzero(active, dim=-1).unsqueeze(-1).to(v.dtype)  # a bool sum is 9x slower
        if torch.equal(new_count, count):
            break
        count = new_count
        tau = (torch.where(active, shifted, 0.0).sum(dim=-1, keepdim=True) - 1.0) / count
    return (shifted - tau).clamp_(min=0.0)
