"""Euclidean projection onto the probability simplex, every row at once, on the rows' device."""

from __future__ import annotations

import torch

_ROWS_PER_PASS = 1024  # bounds the float64 working copies (a few rows x N each) for T x N policies


def project_to_simplex(v: torch.Tensor) -> torch.Tensor:
    """argmin_{w >= 0, sum w = 1} ||w - v||_2 for each row of v (..., N), in v's dtype.

    The exact sort-based algorithm (Held et al.; Duchi et al. 2008): O(N log N) per row,
    vectorised over rows, no Python loop over entries and no QP solver. Exact at any scale:
    each row is first shifted by its maximum (the projection is shift-invariant), so the entries
    that can stay positive are O(1) whatever the scale of v, and the sums run in float64. After
    the shift the top entry is 0 > (0 - 1) / 1, so at least one entry is always kept (rho >= 1).
    """
    if not torch.isfinite(v).all():
        raise ValueError("project_to_simplex: the input has non-finite entries")
    shape = v.shape
    rows = v.reshape(-1, shape[-1])
    out = torch.empty_like(rows)
    for start in range(0, rows.shape[0], _ROWS_PER_PASS):
        part = rows[start : start + _ROWS_PER_PASS].to(torch.float64)
        out[start : start + _ROWS_PER_PASS] = _project_rows(part).to(v.dtype)
    return out.reshape(shape)


def _project_rows(v: torch.Tensor) -> torch.Tensor:
    n = v.shape[-1]
    shifted = v - v.amax(dim=-1, keepdim=True)  # top entry exactly 0
    u, _ = torch.sort(shifted, dim=-1, descending=True)
    css = torch.cumsum(u, dim=-1).sub_(1.0)
    k = torch.arange(1, n + 1, device=v.device, dtype=v.dtype)
    rho = (u.mul_(k) > css).sum(dim=-1, keepdim=True).clamp_(min=1)  # u_k - css_k / k > 0 on the first rho
    tau = torch.gather(css, -1, rho - 1) / rho.to(v.dtype)
    return (shifted - tau).clamp_(min=0.0)
