"""Learning-rate schedule summaries for the schedule-aware laws, from one curve's logged (x, lr).

The laws lr_annealing and multi_power read a curve's learning rate through sums over every
step, not through its value at the logged points. These are computed here, from the whole curve
(before a fitting range or subsampling selects points), never by the user:

- the per-step rate eta(s), s = 1..x_last, by linear interpolation of lr between the logged
  points (constant before the first), so lr may be logged at every step or only at the points;
- S1(s) = sum_{tau <= s} eta_tau, the forward area;
- S2(s) = sum_{i <= s} m_i, m_i = lambda m_{i-1} + (eta_{i-1} - eta_i), the annealing area in
  its momentum form (Tissue et al. 2024, "Scaling Law with Learning Rate Annealing", arXiv
  2408.11029), with eta_0 = eta_1 (m_1 = 0); a warmup's rising rate counts as negative annealing;
- for the multi-power law (Luo et al. 2025, arXiv 2503.12811), the decrements
  d_k = eta_{k-1} - eta_k after the peak (the end of warmup), compressed into bins.

x is in steps. A curve longer than GRID_CELLS steps (x in tokens, say) is summarised on a uniform
grid of GRID_CELLS cells instead, each cell standing for h = x_last / GRID_CELLS units of x: the
rate is read at the cell's end, sums are multiplied by h, and the momentum decays by lambda^h
per cell (lambda per unit of x).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from fitting.errors import InvalidInputError

GRID_CELLS = 2_000_000
MOMENTUM = 0.999  # lambda of the annealing momentum, as Tissue et al. fix it
# At most this many decrement bins, and at most BIN_BUDGET (points x bins) per curve: the
# multi-power law costs O(points x bins) per evaluation, and its per-point arrays hold as many.
MAX_BINS = 128
MIN_BINS = 32
BIN_BUDGET = 4_000_000
# A bin's rate is floored at this fraction of the peak: eta^-gamma stays finite where lr reaches 0.
ETA_FLOOR = 1e-9


@dataclass(frozen=True, eq=False)
class StepRates:
    """eta per grid cell: cell j (j = 1..T) ends at x = j * spacing; spacing 1 means one cell a step."""

    eta: np.ndarray  # (T,)
    spacing: float

    @property
    def ends(self) -> np.ndarray:
        return self.spacing * np.arange(1, len(self.eta) + 1)

    def cumulative(self, per_cell: np.ndarray) -> np.ndarray:
        """(T + 1,) running sums of a per-cell quantity times the spacing, from 0 at x = 0."""
        return np.concatenate([[0.0], self.spacing * np.cumsum(per_cell)])

    def read(self, running: np.ndarray, x: np.ndarray) -> np.ndarray:
        """A (T + 1,) running sum read at x (linearly between cell ends; 0 at and before x = 0)."""
        return np.interp(x, np.concatenate([[0.0], self.ends]), running)


@dataclass(frozen=True, eq=False)
class DecrementBins:
    """The multi-power law's loss-drop sum for every point, in at most K bins of decrements.

    Per point i and bin k: D (the bin's decrements at steps <= x_i, summed), gap (S1(x_i) minus
    the forward area before the bin's decrement-weighted centre) and log_eta (log of the bin's
    decrement-weighted rate), so that LD(x_i) = B sum_k D G(exp(-gamma log_eta) gap). All (m, K);
    a bin after x_i has D = gap = log_eta = 0 and so contributes nothing.
    """

    D: np.ndarray
    gap: np.ndarray
    log_eta: np.ndarray


def check_schedule(x: np.ndarray, lr: np.ndarray) -> None:
    """lr >= 0 at every point (0 is allowed: a schedule may start or end there); x > 0 somewhere."""
    bad = lr < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(f"must be >= 0 (a learning rate), got {lr[i]}", field="lr", index=i)
    if not (x > 0).any():
        raise InvalidInputError("no point after step 0: the schedule has no steps", field="x")


def step_rates(x: np.ndarray, lr: np.ndarray) -> StepRates:
    """eta(s) on the grid: lr interpolated linearly between logged points, constant before the first."""
    last = float(x[-1])
    cells = int(np.ceil(last)) if last <= GRID_CELLS else GRID_CELLS
    spacing = 1.0 if last <= GRID_CELLS else last / GRID_CELLS
    cells = max(cells, 1)
    return StepRates(np.interp(spacing * np.arange(1, cells + 1), x, lr), spacing)


def forward_area(rates: StepRates, x: np.ndarray) -> np.ndarray:
    """S1 at each x: the sum of eta over steps up to x."""
    return rates.read(rates.cumulative(rates.eta), x)


def annealing_area(rates: StepRates, x: np.ndarray, momentum: float = MOMENTUM) -> np.ndarray:
    """S2 at each x: sum_{i <= x} m_i, m_i = lambda m_{i-1} + (eta_{i-1} - eta_i), eta_0 = eta_1."""
    decrements = -np.diff(rates.eta, prepend=rates.eta[0])
    m = lfilter([1.0], [1.0, -(momentum**rates.spacing)], decrements)  # the recursion in C, O(T)
    return rates.read(rates.cumulative(m), x)


def decrement_bins(rates: StepRates, x: np.ndarray, max_bins: int | None = None) -> DecrementBins:
    """The multi-power law's decrements after the peak, in bins, read at every x.

    Steps whose rate changes are grouped into at most `max_bins` runs of about equal count
    (every decrement its own bin when there are few, as for a step schedule: then LD is exact).
    A bin stands for its summed decrement at its decrement-weighted centre (forward area and rate);
    for a point inside a bin, only the bin's steps up to the point count. Bins default to
    MAX_BINS, fewer for long curves (BIN_BUDGET points x bins).
    """
    if max_bins is None:
        max_bins = int(np.clip(BIN_BUDGET // max(len(x), 1), MIN_BINS, MAX_BINS))
    eta, ends = rates.eta, rates.ends
    peak = int(np.argmax(eta))  # first cell at the largest rate: the end of warmup
    top = float(eta[peak])
    decrements = -np.diff(eta, prepend=eta[0])
    steps = np.flatnonzero(np.abs(decrements) > 1e-12 * top)
    steps = steps[steps > peak]  # the sum runs over the steps after warmup
    m = len(x)
    if steps.size == 0:
        zeros = np.zeros((m, 1))
        return DecrementBins(zeros, zeros.copy(), zeros.copy())
    before = rates.cumulative(eta)[steps]  # forward area before each decrement's step (cells < k)
    d, w = decrements[steps], np.abs(decrements[steps])
    n_bins = min(max_bins, steps.size)
    edges = np.round(np.linspace(0, steps.size, n_bins + 1)).astype(int)  # runs of equal count

    def running(v: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(v)])

    sum_d, sum_w, sum_ws, sum_we = running(d), running(w), running(w * before), running(w * eta[steps])
    # decrements at steps <= x_i: how many of `steps` each point has passed, clipped to each bin
    passed = np.searchsorted(ends[steps], x, side="right")  # (m,)
    lo = edges[None, :-1]  # (1, K)
    hi = np.clip(passed[:, None], lo, edges[None, 1:])  # (m, K)
    weight = sum_w[hi] - sum_w[lo]
    has = weight > 0
    safe = np.where(has, weight, 1.0)
    centre = (sum_ws[hi] - sum_ws[lo]) / safe
    rate = np.maximum((sum_we[hi] - sum_we[lo]) / safe, ETA_FLOOR * top)
    s1 = forward_area(rates, x)[:, None]
    return DecrementBins(
        D=np.where(has, sum_d[hi] - sum_d[lo], 0.0),
        gap=np.where(has, np.maximum(s1 - centre, 0.0), 0.0),
        log_eta=np.where(has, np.log(rate), 0.0),
    )


def check_trained(s1: np.ndarray, x: np.ndarray, fitted: np.ndarray) -> None:
    """A fitted point needs some forward area: the laws take S1^-alpha."""
    bad = fitted & (s1 <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"is 0 at every step up to x = {x[i]:g}: the law needs some learning before a point it fits "
            "(give x_min past it)",
            field="lr",
            index=i,
        )
