"""Resampling noise that remembers: the dependent wild bootstrap both the fits' intervals and the
measured ratios use.

Residuals of real loss curves are autocorrelated (smoothed logs, slow drifts of the data order),
and drawing them independently, as the plain residual bootstrap does, makes intervals far too
narrow: with lag-1 correlation 0.9 a curve of n points carries about n/19 points' worth of
information, not n. The dependent wild bootstrap keeps each residual where it is and multiplies it
by a random sign that is the same over a block of consecutive points, so the noise keeps its size
along the curve and its correlation within a block (Shao 2010, "The dependent wild bootstrap").
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

CORRELATED = 0.2  # lag-1 correlation of the residuals above which a fit's bootstrap goes by blocks


def lag1(residuals: np.ndarray) -> float:
    """The residuals' lag-1 autocorrelation (0 without spread)."""
    r = residuals - residuals.mean()
    denom = float(r @ r)
    return float(r[1:] @ r[:-1]) / denom if denom > 0 and r.size > 2 else 0.0


def block_length(residuals: np.ndarray) -> int:
    """Points per block: at least n^(1/3), longer when the residuals are correlated (twice the
    correlation length (1 + rho) / (1 - rho) of an AR(1) with lag-1 correlation rho), at most a
    tenth of the curve."""
    n = residuals.size
    rho = min(max(lag1(residuals), 0.0), 0.95)
    length = max(n ** (1 / 3), 2 * (1 + rho) / (1 - rho))
    return int(min(max(1, math.ceil(length)), max(1, n // 10)))


def block_sign_draws(rng: np.random.Generator, draws: int, n: int, block: int) -> np.ndarray:
    """(draws, blocks) random signs, one per block of `block` consecutive points (the last block
    may be shorter)."""
    return rng.choice((-1.0, 1.0), size=(draws, -(-n // block)))


def ar1_draws(rng: np.random.Generator, draws: int, residuals: np.ndarray, n_params: int = 0) -> np.ndarray:
    """(draws, n) noise with the residuals' lag-1 memory: an AR(1) sieve bootstrap (Sieve)."""
    return Sieve(residuals, n_params).draws(rng, draws)


class Sieve:
    """The AR(1) sieve of a curve's residuals, drawn from as often as needed. The residuals are
    whitened, e_t - rho e_(t-1), their innovations drawn with replacement and filtered again, so
    the draws carry the slow part of the noise that a fitted law absorbs from its residuals.
    The fit took n_params of the noise's n (1 - rho) / (1 + rho) effective degrees of freedom
    with it; the draws are scaled back up by that share, as s^2 = RSS / (n - p) is for white noise."""

    def __init__(self, residuals: np.ndarray, n_params: int = 0):
        self.rho = min(max(lag1(residuals), 0.0), 0.98)
        innovations = residuals[1:] - self.rho * residuals[:-1]
        self.innovations = innovations - innovations.mean()
        self.n = residuals.size
        n_eff = self.n * (1.0 - self.rho) / (1.0 + self.rho)
        self.scale = math.sqrt(n_eff / max(n_eff - n_params, 1.0))

    def draws(self, rng: np.random.Generator, draws: int) -> np.ndarray:
        """(draws, n) noise."""
        u = self.innovations[rng.integers(0, self.innovations.size, size=(draws, self.n))]
        u[:, 0] /= math.sqrt(max(1.0 - self.rho * self.rho, 1e-4))  # the stationary start
        return lfilter([1.0], [1.0, -self.rho], u, axis=1) * self.scale  # out[t] = rho out[t - 1] + u[t], in C
