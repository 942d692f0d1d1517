"""pandas DataFrames of what the client returns, one row per thing a researcher would plot or
filter on, with plain column names:

    curves_frame(curves)        one row per curve (its metadata, labels as "label.KEY")
    fits_frame(fits)            one row per fit and parameter: value, stderr, ci_low, ci_high
    comparison_frame(result)    one row per candidate and horizon: AR from the fits with its
                                interval, AR read off the curves, and the candidate's coefficients

NaN marks a value the data does not give, as everywhere in the client.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from service.client import ComparisonInfo, CurveInfo, FitInfo

CURVE_COLUMNS = [
    "id", "name", "policy", "study", "split", "vocab_size", "x_unit", "tokens_per_step", "n_points", "x_first",
    "x_last", "loss_last", "sha256",
]  # fmt: skip
FIT_COLUMNS = [
    "fit_id", "curve_id", "law", "method", "status", "param", "value", "stderr", "ci_low", "ci_high", "ci_method",
    "shared", "r2", "rmse", "n_points", "n_left_out", "message",
]  # fmt: skip
COMPARISON_COLUMNS = [
    "baseline_id", "candidate_id", "horizon", "ar_fit", "ar_fit_low", "ar_fit_high", "ar_measured",
    "ar_measured_low", "ar_measured_high", "ar_measured_reach", "b_improvement", "beta_improvement", "auc", "cr",
    "baseline_cr", "cr_units",
]  # fmt: skip


def curves_frame(curves: Sequence[CurveInfo]) -> pd.DataFrame:
    rows = []
    for c in curves:
        row = {k: getattr(c, k) for k in CURVE_COLUMNS}
        row.update({f"label.{k}": v for k, v in c.labels.items()})
        rows.append(row)
    return pd.DataFrame(rows, columns=_with_extra(CURVE_COLUMNS, rows))


def fits_frame(fits: Sequence[FitInfo]) -> pd.DataFrame:
    rows = []
    for f in fits:
        for param, value in f.params.items():
            low, high = f.ci.get(param, (math.nan, math.nan))
            rows.append({
                "fit_id": f.id, "curve_id": f.curve_id, "law": f.law, "method": f.method, "status": f.status,
                "param": param, "value": value, "stderr": f.stderr.get(param, math.nan), "ci_low": low,
                "ci_high": high, "ci_method": f.ci_method, "shared": param in f.shared, "r2": f.r2, "rmse": f.rmse,
                "n_points": f.n_points, "n_left_out": f.n_left_out, "message": f.message,
            })  # fmt: skip
    return pd.DataFrame(rows, columns=FIT_COLUMNS)


def comparison_frame(result: ComparisonInfo) -> pd.DataFrame:
    rows = []
    for cand in result.candidates:
        for horizon, est in cand.ar_fit.items():
            measured = cand.ar_measured[horizon]
            rows.append({
                "baseline_id": result.baseline_id, "candidate_id": cand.curve_id, "horizon": horizon,
                "ar_fit": est.value, "ar_fit_low": est.low, "ar_fit_high": est.high, "ar_measured": measured.value,
                "ar_measured_low": measured.low, "ar_measured_high": measured.high,
                "ar_measured_reach": measured.reach, "b_improvement": cand.b_improvement.value,
                "beta_improvement": cand.beta_improvement.value, "auc": cand.auc, "cr": cand.cr,
                "baseline_cr": result.baseline_cr, "cr_units": result.cr_units,
            })  # fmt: skip
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def _with_extra(columns: list[str], rows: list[dict[str, object]]) -> list[str]:
    extra = sorted({k for row in rows for k in row} - set(columns))
    return [*columns, *extra]
