"""Small vectorised linear algebra used by the starting-value guesses."""

from __future__ import annotations

from itertools import combinations

import numpy as np


def nonneg_linear_fit(basis: np.ndarray, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per curve, the non-negative coefficients c minimising sum_m w (y - basis @ c)^2.

    basis (b, m, K), y (b, m), mask (b, m) -> c (b, K). The weight w = mask / y^2 makes the
    squared error relative, which approximates the log-space residual the fits use. K is small
    (<= 3), so the exact non-negative solution is found by trying every active set.
    """
    basis = np.broadcast_to(basis, y.shape + basis.shape[-1:])
    k = basis.shape[-1]
    best_cost = np.full(len(y), np.inf)
    best = np.zeros((len(y), k))
    # Losses near 1e300 or 1e-300 overflow or vanish when squared in w. The solution scales with
    # y, so y is divided by its geometric mean per curve first; a curve spanning more than the
    # float range still overflows, and its coefficients stay zero.
    with np.errstate(all="ignore"):
        log_y = np.where(mask > 0, np.log(np.where(mask > 0, y, 1.0)), 0.0)
        scale = np.exp(log_y.sum(axis=1) / np.maximum(mask.sum(axis=1), 1))[:, None]  # (b, 1)
        y = y / scale
        w = mask / np.where(mask > 0, y, 1.0) ** 2
        weighted = np.swapaxes(basis * w[..., None], 1, 2)  # (b, K, m); matmul beats a 3-operand einsum
        gram = weighted @ basis  # (b, K, K)
        rhs = (weighted @ y[..., None])[..., 0]  # (b, K)
        yy = (y * w * y).sum(axis=1)
        for size in range(1, k + 1):
            for subset in combinations(range(k), size):
                idx = np.array(subset)
                g = gram[:, idx[:, None], idx[None, :]]
                ridge = 1e-12 * np.trace(g, axis1=1, axis2=2)[:, None, None] * np.eye(size) + 1e-300
                c = np.linalg.solve(g + ridge, rhs[:, idx][..., None])[..., 0]
                full = np.zeros((len(y), k))
                full[:, idx] = c
                cost = yy - 2 * np.einsum("bk,bk->b", full, rhs) + np.einsum("bk,bkl,bl->b", full, gram, full)
                better = np.all(c >= 0, axis=1) & (cost < best_cost)
                best_cost = np.where(better, cost, best_cost)
                best = np.where(better[:, None], full, best)
        best = best * scale
    return np.where(np.isfinite(best), best, 0.0)
