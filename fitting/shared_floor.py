"""Is one floor L0 enough for every curve? The paper fits its curves with L0 shared, which makes
the AR a closed form; but a policy that down-weights noisy examples can lower the floor itself, and
a shared L0 then bends both laws away from their curves (our own paper preset: r^2 down to -0.12
shared, at least 0.998 separate). So a comparison tests the hypothesis before it makes it.

The test compares the joint fit with L0 shared against the fit with every parameter separate, by
AIC on the log residuals: AIC = sum over curves of n_eff log(RSS / n) + 2 k, where k counts the
free parameters (one L0 fewer per extra curve when shared) and n_eff = n (1 - rho) / (1 + rho)
discounts the points for the residuals' lag-1 autocorrelation rho, as consecutive points of a
smoothed log are not independent evidence. delta = AIC(shared) - AIC(separate) above 10 is strong
evidence that the floors differ (Burnham and Anderson's scale), and the comparison then fits them
separately; otherwise it keeps the paper's shared L0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from fitting.joint import fit_joint
from fitting.options import FitOptions
from fitting.result import FitResult

STRONG = 10.0  # delta AIC past which the floors are taken to differ


@dataclass(frozen=True)
class SharedFloorTest:
    """The outcome: what the comparison shares, the evidence and the reason in words."""

    shared: tuple[str, ...]
    delta_aic: float  # AIC(shared) - AIC(separate); positive favours separate floors
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {
            "shared": list(self.shared),
            "delta_aic": self.delta_aic if math.isfinite(self.delta_aic) else None,
            "reason": self.reason,
        }


def check_shared_floor(curves: Sequence[tuple[Any, Any]], options: FitOptions, name: str = "L0") -> SharedFloorTest:
    """Fit the curves with `name` shared and with nothing shared (no resamples: the evidence, not
    intervals), and say which the comparison should use."""
    quick = replace(options, bootstrap=0)
    shared = fit_joint(curves, options=quick.sharing([name]))
    separate = fit_joint(curves, options=quick.sharing([]))
    delta = _delta_aic(shared, separate)
    if not math.isfinite(delta):
        return SharedFloorTest((name,), delta, f"{name} shared: the fits give no likelihood to compare")
    if delta > STRONG:
        return SharedFloorTest(
            (), delta, f"{name} fitted per curve: one shared {name} is rejected (delta AIC {delta:.1f} > {STRONG:g})"
        )
    return SharedFloorTest(
        (name,), delta, f"{name} shared, as in the paper: the data do not reject it (delta AIC {delta:.1f})"
    )


def _delta_aic(shared: list[FitResult], separate: list[FitResult]) -> float:
    total = 0.0
    for a, b in zip(shared, separate, strict=True):
        rss_a, rss_b = a.rmse**2 * a.n_points, b.rmse**2 * b.n_points
        if not (rss_a > 0 and rss_b > 0 and math.isfinite(rss_a) and math.isfinite(rss_b)):
            return math.nan
        rho = b.verdict.lag1 if b.verdict is not None and math.isfinite(b.verdict.lag1) else 0.0
        rho = min(max(rho, 0.0), 0.98)
        n_eff = b.n_points * (1.0 - rho) / (1.0 + rho)
        total += n_eff * math.log(rss_a / rss_b)
    return total - 2.0 * (len(shared) - 1)  # the shared fit has one L0 per extra curve fewer
