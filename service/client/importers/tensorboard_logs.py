"""Curves from TensorBoard event files, read with the `tensorboard` package's EventAccumulator
(the `tensorboard` extra: pip install 'scalinglaw[tensorboard]').

A directory is searched recursively for event files; the events of one directory are one run,
named by that directory relative to the given root (the root's own name for files directly in it).
Each run and tag gives one curve named "RUN/TAG", with the step as x. A run resumed from a
checkpoint logs some steps again: the value written last for a step is kept, as TensorBoard
itself shows it. With `lr_tag`, each curve carries that tag's learning rate of the same run,
paired by step (the rate in force at each loss step).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from service.client.importers.curves import LogCurve, LogReadError, log_curve, rate_at_steps

EVENT_FILE_GLOB = "events.out.tfevents.*"
MISSING = "reading TensorBoard logs needs the tensorboard package: pip install 'scalinglaw[tensorboard]'"


def read_tensorboard(
    path: Path, tags: Sequence[str], *, dropna: bool = False, lr_tag: str | None = None
) -> list[LogCurve]:
    """One curve per run (event-file directory) and tag; a run without a tag is passed over, a
    tag no run has is an error listing the scalar tags there are. With `lr_tag`, a run that has a
    loss tag but not the rate's is an error naming the run."""
    if not tags:
        raise LogReadError(f"{path}: name the scalar tags to read with --tag (e.g. --tag loss)")
    runs = _runs(path)
    accumulators = {name: _load(directory, path) for name, directory in runs.items()}
    curves: list[LogCurve] = []
    found: set[str] = set()
    for run, acc in accumulators.items():
        for tag in tags:
            series = _series(acc, tag)
            if series is None:
                continue
            found.add(tag)
            steps, values = series
            name = f"{run}/{tag}"
            lr = None if lr_tag is None else _rates(acc, lr_tag, steps, f"{path}: {run}/{lr_tag}")
            source = f"{path}: {name}"
            curves.append(log_curve(name, steps, values, source, rows=steps, dropna=dropna, unit="step", lr=lr))
    missing = [t for t in tags if t not in found]
    if missing:
        have = sorted({t for acc in accumulators.values() for t in _scalar_tags(acc)})
        shown = ", ".join(have[:30]) + (", ..." if len(have) > 30 else "") if have else "none"
        raise LogReadError(f"{path}: no run has the scalar tag {missing[0]!r}; the tags there are: {shown}")
    return curves


def _rates(acc: Any, tag: str, steps: np.ndarray, what: str) -> np.ndarray:
    series = _series(acc, tag)
    if series is None:
        raise LogReadError(f"{what}: the run has no scalar tag {tag!r} (--lr-tag)")
    return rate_at_steps(steps, *series, what)


def _runs(path: Path) -> dict[str, Path]:
    """Run name -> directory holding its event files."""
    if path.is_file():
        return {path.parent.name or ".": path.parent}
    if not path.is_dir():
        raise LogReadError(f"no such file or directory: {path}")
    directories = sorted({f.parent for f in path.rglob(EVENT_FILE_GLOB) if f.is_file()})
    if not directories:
        raise LogReadError(f"{path}: no TensorBoard event files ({EVENT_FILE_GLOB}) in it or below it")
    return {(d.relative_to(path).as_posix() if d != path else path.resolve().name): d for d in directories}


def _load(directory: Path, root: Path) -> Any:
    try:
        from tensorboard.backend.event_processing import event_accumulator
    except ImportError:
        raise LogReadError(MISSING) from None
    # size_guidance 0 keeps every point: the default samples 10,000 scalars per tag (a reservoir)
    acc = event_accumulator.EventAccumulator(
        str(directory), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0}
    )
    try:
        acc.Reload()
    except Exception:  # a corrupt or truncated file; TensorBoard's own text stays out of our message
        raise LogReadError(f"{root}: cannot read the event files in {directory}") from None
    return acc


def _scalar_tags(acc: Any) -> list[str]:
    tags = acc.Tags()
    return [*tags.get("scalars", []), *tags.get("tensors", [])]


def _series(acc: Any, tag: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(steps, values) of a tag, logged as a scalar summary (PyTorch's SummaryWriter, TF1) or as
    a scalar tensor (TF2's tf.summary.scalar); None when the run does not have it."""
    tags = acc.Tags()
    if tag in tags.get("scalars", []):
        events = [(e.step, e.value) for e in acc.Scalars(tag)]
    elif tag in tags.get("tensors", []):
        from tensorboard.util import tensor_util

        events = []
        for e in acc.Tensors(tag):
            value = np.asarray(tensor_util.make_ndarray(e.tensor_proto), dtype=float).reshape(-1)
            if value.size != 1:  # a histogram or an image under that tag, not a curve
                return None
            events.append((e.step, float(value[0])))
    else:
        return None
    last: dict[int, float] = {}
    for step, value in events:  # in the order written: a step logged again keeps its last value
        last[int(step)] = float(value)
    steps = np.array(sorted(last), dtype=float)
    return steps, np.array([last[int(s)] for s in steps], dtype=float)
