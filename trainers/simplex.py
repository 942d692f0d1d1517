"""Euclidean projection onto the probability simplex, every row at once, on the rows' device."""

from __future__ import annotations

import torch


def project_to_simplex(v: torch.Tensor) -> torch.Tensor:
    """argmin_{w >= 0, sum w = 1} ||w - v||_2 for each row of v (..., N).

    The exact sort-based algorithm (Held et al.; Duchi et al. 2008): O(N log N) per row,
    vectorised over rows, no Python loop and no QP solver.
    """
    n = v.shape[-1]
    u, _ = torch.sort(v, dim=-1, descending=True)
    css = torch.cumsum(u, dim=-1).sub_(1.0)
    k = torch.arange(1, n + 1, device=v.device, dtype=v.dtype)
    rho = (u.mul_(k) > css).sum(dim=-1, keepdim=True)  # u_k - css_k / k > 0 on the first rho entries
    tau = torch.gather(css, -1, rho - 1) / rho.to(v.dtype)
    return (v - tau).clamp_(min=0.0)
