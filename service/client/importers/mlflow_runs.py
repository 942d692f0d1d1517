"""Curves from MLflow runs: each run and metric's history, read through MLflow's own client
(MlflowClient.get_metric_history), one curve per run and metric named "RUN_NAME/METRIC", with the
step as x. Needs the `mlflow` extra (pip install 'scalinglaw[mlflow]').

A metric logged twice at one step keeps the value logged last (by timestamp), as MLflow's charts
show it. Two runs of one name in an experiment get their run id's first 8 characters appended.
With `lr_metric`, each curve carries that metric's learning rate of the same run, paired by step.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from service.client.importers.curves import LogCurve, LogReadError, log_curve, rate_at_steps

MISSING = "reading MLflow runs needs the mlflow package: pip install 'scalinglaw[mlflow]'"
MAX_RUNS = 10_000  # runs one import reads at most: bounded work for an experiment of any size


def read_mlflow(
    tracking_uri: str,
    metrics: Sequence[str],
    *,
    run_id: str = "",
    experiment: str = "",
    dropna: bool = False,
    lr_metric: str | None = None,
) -> list[LogCurve]:
    """The histories of `metrics` for one run (run_id) or every run of an experiment (by name).
    A run without a metric is passed over; a metric no run has is an error."""
    if bool(run_id) == bool(experiment):
        raise LogReadError("give one of --run-id and --experiment")
    if not metrics:
        raise LogReadError("name the metrics to read with --metric (e.g. --metric loss)")
    client = _client(tracking_uri)
    if run_id:
        runs = [_call(lambda: client.get_run(run_id), f"run {run_id!r}")]
    else:
        runs = _experiment_runs(client, experiment)
    names = _run_names(runs)
    curves: list[LogCurve] = []
    found: set[str] = set()
    for run, run_name in zip(runs, names, strict=True):
        rid = run.info.run_id
        for metric in metrics:
            if metric not in run.data.metrics:
                continue
            found.add(metric)
            history = _call(lambda r=rid, m=metric: client.get_metric_history(r, m), f"run {rid!r} metric {metric!r}")
            steps, values = _last_per_step(history)
            name = f"{run_name}/{metric}"
            lr = None if lr_metric is None else _rates(client, run, lr_metric, steps, f"{tracking_uri}: {run_name}")
            source = f"{tracking_uri}: {name}"
            curves.append(log_curve(name, steps, values, source, rows=steps, dropna=dropna, unit="step", lr=lr))
    missing = [m for m in metrics if m not in found]
    if missing:
        have = sorted({k for run in runs for k in run.data.metrics})
        where = f"run {run_id!r}" if run_id else f"experiment {experiment!r}"
        raise LogReadError(f"{where} has no metric {missing[0]!r}; its metrics are: {', '.join(have[:30]) or 'none'}")
    return curves


def _rates(client: Any, run: Any, metric: str, steps: np.ndarray, what: str) -> np.ndarray:
    if metric not in run.data.metrics:
        raise LogReadError(f"{what}: the run has no metric {metric!r} (--lr-metric)")
    rid = run.info.run_id
    history = _call(lambda: client.get_metric_history(rid, metric), f"run {rid!r} metric {metric!r}")
    return rate_at_steps(steps, *_last_per_step(history), f"{what}/{metric}")


def _client(tracking_uri: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise LogReadError(MISSING) from None
    # MLflow retries an unreachable server for minutes by default; a CLI user should hear sooner
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    return MlflowClient(tracking_uri=tracking_uri)


def _call(fn: Any, what: str) -> Any:
    """One MLflow call; its failure becomes our message, never MLflow's text (which may hold URLs,
    credentials or server internals)."""
    try:
        return fn()
    except Exception as exc:
        code = getattr(exc, "error_code", "")
        if code == "RESOURCE_DOES_NOT_EXIST":
            raise LogReadError(f"MLflow has no {what}") from None
        raise LogReadError(f"MLflow: cannot read {what} ({type(exc).__name__}{': ' + code if code else ''})") from None


def _experiment_runs(client: Any, name: str) -> list[Any]:
    experiment = _call(lambda: client.get_experiment_by_name(name), f"experiment {name!r}")
    if experiment is None:
        raise LogReadError(f"MLflow has no experiment {name!r}")
    runs: list[Any] = []
    token = None
    while len(runs) < MAX_RUNS:
        size = min(1000, MAX_RUNS - len(runs))
        page = _call(
            lambda t=token, n=size: client.search_runs(
                [experiment.experiment_id], max_results=n, page_token=t, order_by=["attributes.start_time ASC"]
            ),
            f"the runs of experiment {name!r}",
        )  # fmt: skip
        runs += list(page)
        token = page.token
        if not token:
            break
    if not runs:
        raise LogReadError(f"MLflow experiment {name!r} has no runs")
    return runs


def _run_names(runs: list[Any]) -> list[str]:
    names = [run.info.run_name or run.info.run_id for run in runs]
    return [f"{n}-{run.info.run_id[:8]}" if names.count(n) > 1 else n for n, run in zip(names, runs, strict=True)]


def _last_per_step(history: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    last: dict[int, tuple[int, float]] = {}
    for m in history:
        previous = last.get(m.step)
        if previous is None or m.timestamp >= previous[0]:
            last[m.step] = (m.timestamp, m.value)
    steps = sorted(last)
    return np.array(steps, dtype=float), np.array([last[s][1] for s in steps], dtype=float)
