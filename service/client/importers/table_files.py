"""Curves from table files: .csv, .tsv, .parquet, .json (records or columns) and .jsonl (one
object per line), chosen by extension.

Long tables have a step column and one loss column. Wide tables, as W&B and MLflow export them,
have one step column and one column per run: each loss column given becomes its own curve, named
after the column, made of the rows where that run has a value (an empty cell is a step the run did
not log, not a bad value). Rows are numbered from 1, the header not counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from service.client.importers.curves import LogCurve, LogReadError, log_curve

SUFFIXES = (".csv", ".tsv", ".parquet", ".json", ".jsonl")


def read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise LogReadError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise LogReadError(f"{path}: use {', '.join(SUFFIXES)} (or a TensorBoard log directory with --tag)")
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix == ".tsv":
            return pd.read_csv(path, sep="\t")
        if suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_json(path, lines=suffix == ".jsonl")
    except ImportError:  # an install without the parquet engine
        raise LogReadError(f"{path}: reading .parquet needs pyarrow (pip install pyarrow)") from None
    except (OSError, ValueError, UnicodeDecodeError):  # unreadable, or not what its suffix says
        raise LogReadError(f"{path}: cannot read it as {suffix[1:]}") from None


def table_curves(
    frame: pd.DataFrame,
    source: str,
    *,
    x_col: str = "step",
    loss_cols: Sequence[str] = ("loss",),
    name: str = "",
    dropna: bool = False,
    lr_col: str | None = None,
    input_cols: Sequence[str] = (),
) -> list[LogCurve]:
    """One curve per loss column. With one column the curve is called `name` (the file's stem at
    the CLI); with several, each is called after its column and keeps only the rows where it has
    a value (as in a wide export, where runs log at different steps). With `lr_col`, every curve
    carries that column's learning rate of each of its rows. `input_cols`: columns carried as the
    law's inputs, "NAME" or "NAME=COLUMN" (a point set of final losses: N and D, for chinchilla);
    then a table without the x column takes the row number as x."""
    if not loss_cols:
        raise LogReadError(f"{source}: give at least one loss column")
    inputs = {}
    for spec in input_cols:
        key, _, col = spec.partition("=")
        if not key.strip():
            raise LogReadError(f"{source}: --input-col {spec!r}: write NAME or NAME=COLUMN")
        inputs[key.strip()] = _numbers(frame, _column(frame, col or key.strip(), source, "--input-col"), source)
    if inputs and not _has_column(frame, x_col):  # a point set: its rows in the order given
        x = np.arange(1.0, len(frame) + 1.0)
    else:
        x = _numbers(frame, _column(frame, x_col, source, "--x-col"), source)
    wide = len(loss_cols) > 1
    lr = None if lr_col is None else _numbers(frame, _column(frame, lr_col, source, "--lr-col"), source)
    curves = []
    for col in loss_cols:
        loss = _numbers(frame, _column(frame, col, source, "--loss-col"), source)
        keep = ~np.isnan(loss) if wide else np.ones(loss.size, dtype=bool)
        rows = np.arange(1, loss.size + 1)[keep]  # numbered as in the file, blanks of a wide table or not
        rates = None if lr is None else lr[keep]
        columns = {k: v[keep] for k, v in inputs.items()}
        curves.append(log_curve(col if wide else name, x[keep], loss[keep], source, rows=rows, dropna=dropna, lr=rates,
                                columns=columns))  # fmt: skip
    return curves


def _has_column(frame: pd.DataFrame, name: str) -> bool:
    return name in frame.columns or any(str(c).lower() == name.lower() for c in frame.columns)


def _column(frame: pd.DataFrame, name: str, source: str, flag: str) -> str:
    """The column called `name`, or the one whose name differs only in case (W&B writes "Step")."""
    if name in frame.columns:
        return name
    same = [c for c in frame.columns if str(c).lower() == name.lower()]
    if len(same) == 1:
        return str(same[0])
    has = ", ".join(map(str, frame.columns[:20])) + (", ..." if len(frame.columns) > 20 else "")
    raise LogReadError(f"{source}: no column {name!r} ({flag}); the table has: {has}")


def _numbers(frame: pd.DataFrame, col: str, source: str) -> np.ndarray:
    """The column as floats; a cell that is text, not a number, is an error naming its row."""
    values = frame[col]
    numbers = pd.to_numeric(values, errors="coerce")
    text = numbers.isna() & values.notna()
    if text.any():
        i = int(np.flatnonzero(text.to_numpy())[0])
        cell = str(values.iloc[i])[:40]
        if cell.strip().lower() not in ("nan", "inf", "-inf", "infinity", "-infinity"):
            raise LogReadError(f"{source} row {i + 1}: {col} is {cell!r}, not a number")
    return np.asarray(pd.to_numeric(values.replace({"inf": np.inf, "-inf": -np.inf}), errors="coerce"), dtype=float)
