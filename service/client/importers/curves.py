"""LogCurve: one curve read from a log, with where each point came from, checked so that an error
names the file and the row ("baseline.csv row 7: loss is NaN") rather than a wire field."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


class LogReadError(Exception):
    """A log that cannot become curves: unreadable, missing a column or tag, or a bad row.
    The message is ours and names the source; it never carries a foreign exception's text."""


@dataclass(frozen=True, eq=False)
class LogCurve:
    """Points of one curve and their origin. rows[i] is the 1-based row (data rows; a table's
    header is not counted) or event index that point i came from, for error messages."""

    name: str
    x: np.ndarray
    loss: np.ndarray
    source: str  # the file, directory or run it came from, as the user named it
    rows: np.ndarray
    dropped: int = 0  # rows left out by dropna (non-finite x or loss)
    unit: str = "row"  # what rows holds: a table's row numbers, or a TensorBoard or MLflow point's step

    def where(self, i: int) -> str:
        return f"{self.source} {self.unit} {int(self.rows[i])}"


def log_curve(
    name: str,
    x: np.ndarray,
    loss: np.ndarray,
    source: str,
    *,
    rows: np.ndarray | None = None,
    dropna: bool = False,
    unit: str = "row",
) -> LogCurve:
    """A checked curve: finite x and loss (or, with dropna, those rows left out and counted),
    x strictly increasing, at least one point. rows: each point's row in the source (default
    1, 2, ... in the order given)."""
    xs, ls = np.asarray(x, dtype=float), np.asarray(loss, dtype=float)
    numbers = np.arange(1, xs.size + 1) if rows is None else np.asarray(rows)
    curve = LogCurve(name, xs, ls, source, numbers, unit=unit)
    finite = np.isfinite(xs) & np.isfinite(ls)
    if dropna and not finite.all():
        curve = replace(curve, x=xs[finite], loss=ls[finite], rows=curve.rows[finite], dropped=int((~finite).sum()))
    check_curve(curve)
    return curve


def check_curve(curve: LogCurve) -> None:
    label = f"{curve.name}: " if curve.name and curve.name not in curve.source else ""  # a wide column
    if curve.x.size == 0:
        raise LogReadError(f"{curve.source}: {label}no points" + (" left after --dropna" if curve.dropped else ""))
    for what, values in (("step", curve.x), ("loss", curve.loss)):
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            kind = "NaN" if np.isnan(values[i]) else f"{values[i]}"
            hint = " (--dropna leaves such rows out)"
            raise LogReadError(f"{curve.where(i)}: {label}{what} is {kind}{hint}")
    back = np.diff(curve.x) <= 0
    if back.any():
        i = int(np.flatnonzero(back)[0]) + 1
        raise LogReadError(
            f"{curve.where(i)}: {label}step {curve.x[i]:g} does not increase (after {curve.x[i - 1]:g} at "
            f"{curve.unit} {int(curve.rows[i - 1])}); steps must be strictly increasing"
        )
