"""What a run found, typed: `JobOutcome`, kept as JSON on disk and sent as JSON over the wire.

    outcome = trainers.run(spec).outcome
    JobOutcome.from_json(outcome.to_json())  # the same outcome, its comparison included
    outcome.summary()  # the flat summary: `python -m trainers --json`, summary.json, JobResult.summary_json

The JSON form is the flat summary (its keys are a published format: the client and the CLI read
them) plus "comparison", the run's `fitting.ComparisonResult` whole (bootstrap samples too, so a
figure drawn from it has its intervals). A summary without "comparison" reads back with none.
Imports no torch: a server reads stored outcomes without it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections import abc
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any, TypeVar

import numpy as np

from fitting.comparison import ComparisonResult
from fitting.compression import CR_UNITS
from fitting.errors import InvalidInputError
from fitting.ratios_measured import MeasuredRatio
from fitting.result import Estimate
from fitting.verdict import Verdict

T = TypeVar("T")


@dataclass(frozen=True)
class OuterIteration:
    """One outer step: areas under the loss curves (sum over t = 1..T, nats x steps) at gamma_k."""

    iteration: int
    j_desired: float
    j_holdout: float
    j_test: float
    lr: float
    seconds: float  # wall time since the search started
    # the share of dJ/dgamma's entries the desired set's parts agreed on (search.agreement_splits); 1 without parts
    kept_share: float = 1.0


@dataclass(frozen=True)
class LawCheckpoint:
    """The policy of one outer iteration, measured the paper's way (Fig. 7: SIM rises with CR)."""

    iteration: int
    cr_test: float
    ar_test: float  # measured AR at T on the test curves (NaN where not a value)
    ar_desired: float  # the same on the desired curves (what the search optimises)
    sim: float
    zero_weight_fraction: float
    zero_weight_fraction_positive: float = math.nan  # among CT > 0 (NaN: stored before it was measured)
    nonpositive_weight: float = math.nan  # the policy's weight on CT <= 0 pairs (NaN: stored before)


@dataclass(frozen=True)
class PolicyMetrics:
    """One policy's run, measured: its test curve's area and CR, the desired curve's CR, the
    Learning Law's SIM, and the law fitted to the test curve (step_power: L0, B, beta)."""

    auc: float  # test loss summed over t = 1..T, nats x steps
    cr: float  # test compression ratio, fitting.CR_UNITS["paper"]
    cr_desired: float
    sim: float
    fit: Mapping[str, float]  # L0, B, beta
    r2: float  # of that fit, on log L
    # the final loss over the curve's minimum, test and desired (1: no upturn at the end; NaN in
    # records written before it was measured)
    end_rise: float = float("nan")
    end_rise_desired: float = float("nan")


@dataclass(frozen=True, eq=False)
class JobOutcome:
    """Everything a run reports. The near-optimal side (`optimal`, the ratios, the search's
    fields) is None for a run without a policy search."""

    task: str
    steps: int  # T
    train_size: int  # N
    n_params: int
    label_space: int  # |V| of the compression ratios
    fit_from: int  # the fits use steps >= fit_from
    outer_iters: int
    device: str
    conventional: PolicyMetrics
    optimal: PolicyMetrics | None
    ar_fit: Estimate | None  # AR at T from the fits, with its bootstrap interval
    ar_measured: MeasuredRatio | None  # AR at T read off the test curves
    ar_desired: MeasuredRatio | None  # the same on the desired curves
    db_over_b: float | None  # |dB/B| of the near-optimal fit against the conventional one
    dbeta_over_beta: float | None
    zero_weight_fraction: float | None  # near-optimal policy: zero-weight share among CT <= 0
    well_learned_share: float | None  # near-optimal policy: well-learned examples with gamma < 0.2 max
    best_iteration: int | None  # the outer iteration kept
    snapshots_held: int | None  # most parameter vectors the adjoint held at once
    history: tuple[OuterIteration, ...]
    checkpoints: tuple[LawCheckpoint, ...]
    timings: Mapping[str, float]  # seconds by phase; "total" the whole run
    artifacts: str | None  # where the run wrote its files
    warnings: tuple[str, ...]
    comparison: ComparisonResult | None = None  # the test curves compared as CompareCurves does
    # near-optimal policy: the zero-weight share among CT > 0, and the policy's weight on CT <= 0
    # pairs (the Law's 0; fitting.sim_statistics). None: no search, or a run stored before
    zero_weight_fraction_positive: float | None = None
    nonpositive_weight: float | None = None

    @property
    def seconds(self) -> float:
        return float(self.timings["total"])

    @property
    def fit_verdict(self) -> Verdict | None:
        """The comparison's verdict on the near-optimal curve against the conventional one: whether
        the fit-based numbers (the AR from the fits, dB/B, dbeta/beta) may be read."""
        if self.comparison is None or not self.comparison.candidates:
            return None
        return self.comparison.candidates[0].verdict

    @property
    def fits_readable(self) -> bool:
        """Whether that verdict is good: the fit-based numbers may be read."""
        verdict = self.fit_verdict
        return verdict is not None and verdict.good

    @property
    def ar_empirical(self) -> float | None:
        """The measured AR as a plain number (NaN where it is a bound), None without a search."""
        return None if self.ar_measured is None else self.ar_measured.value

    def summary(self) -> dict[str, Any]:
        """The flat summary, key for key what `python -m trainers --json` has always written."""
        conv, opt = self.conventional, self.optimal
        return {
            "task": self.task,
            "steps": self.steps,
            "train_size": self.train_size,
            "n_params": self.n_params,
            "label_space": self.label_space,
            "ar_empirical": self.ar_empirical,
            "ar_measured": _measured_to_dict(self.ar_measured),
            "ar_desired_measured": _measured_to_dict(self.ar_desired),
            "ar_fit": None if self.ar_fit is None else self.ar_fit.value,
            "ar_fit_ci": None if self.ar_fit is None else [self.ar_fit.low, self.ar_fit.high],
            "cr_conventional": conv.cr,
            "cr_optimal": None if opt is None else opt.cr,
            "cr_desired_conventional": conv.cr_desired,
            "cr_desired_optimal": None if opt is None else opt.cr_desired,
            "cr_units": CR_UNITS["paper"],
            "sim_conventional": conv.sim,
            "sim_optimal": None if opt is None else opt.sim,
            "zero_weight_fraction_optimal": self.zero_weight_fraction,
            "zero_weight_fraction_positive_optimal": self.zero_weight_fraction_positive,
            "nonpositive_weight_optimal": self.nonpositive_weight,
            "well_learned_share_optimal": self.well_learned_share,
            "fit_conventional": dict(conv.fit),
            "fit_optimal": None if opt is None else dict(opt.fit),
            "fit_r2": {"conventional": conv.r2, "optimal": None if opt is None else opt.r2},
            "end_rise": {"conventional": conv.end_rise, "optimal": None if opt is None else opt.end_rise},
            "end_rise_desired": {
                "conventional": conv.end_rise_desired,
                "optimal": None if opt is None else opt.end_rise_desired,
            },
            "fit_from": self.fit_from,
            "dB_over_B": self.db_over_b,
            "dbeta_over_beta": self.dbeta_over_beta,
            "auc_conventional": conv.auc,
            "auc_optimal": None if opt is None else opt.auc,
            "outer_iters": self.outer_iters,
            "best_iteration": self.best_iteration,
            "snapshots_held": self.snapshots_held,
            "history": [asdict(h) for h in self.history],
            "law_checkpoints": [asdict(c) for c in self.checkpoints],
            "seconds": self.seconds,
            "timings": dict(self.timings),
            "device": self.device,
            "artifacts": self.artifacts,
            "warnings": list(self.warnings),
        }

    def to_dict(self) -> dict[str, Any]:
        """The summary and the comparison, as plain JSON-ready values (NaN stays NaN)."""
        comparison = None if self.comparison is None else _comparison_to_dict(self.comparison)
        return {**self.summary(), "comparison": comparison}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> JobOutcome:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise InvalidInputError("a job outcome is a JSON object", field="outcome")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobOutcome:
        """From to_dict() or a summary (then without a comparison); InvalidInputError names a missing key."""
        try:
            return _outcome_from_dict(data)
        except KeyError as exc:
            key = str(exc.args[0])
            raise InvalidInputError(f"not a job outcome: it has no {key!r}", field=key) from None


def _outcome_from_dict(d: Mapping[str, Any]) -> JobOutcome:
    def metrics(policy: str) -> PolicyMetrics | None:
        if d[f"fit_{policy}"] is None:
            return None
        return PolicyMetrics(
            auc=d[f"auc_{policy}"], cr=d[f"cr_{policy}"], cr_desired=d[f"cr_desired_{policy}"],
            sim=d[f"sim_{policy}"], fit=dict(d[f"fit_{policy}"]), r2=d["fit_r2"][policy],
            end_rise=_or_nan(d.get("end_rise", {}).get(policy)),
            end_rise_desired=_or_nan(d.get("end_rise_desired", {}).get(policy)),
        )  # fmt: skip

    conventional = metrics("conventional")
    if conventional is None:
        raise KeyError("fit_conventional")
    ar_fit = None if d["ar_fit"] is None else Estimate(d["ar_fit"], *d["ar_fit_ci"])
    return JobOutcome(
        task=d["task"], steps=d["steps"], train_size=d["train_size"], n_params=d["n_params"],
        label_space=d["label_space"], fit_from=d["fit_from"], outer_iters=d["outer_iters"], device=d["device"],
        conventional=conventional, optimal=metrics("optimal"), ar_fit=ar_fit,
        ar_measured=_optional(_measured_from_dict, d["ar_measured"]),
        ar_desired=_optional(_measured_from_dict, d["ar_desired_measured"]),
        db_over_b=d["dB_over_B"], dbeta_over_beta=d["dbeta_over_beta"],
        zero_weight_fraction=d["zero_weight_fraction_optimal"], well_learned_share=d["well_learned_share_optimal"],
        best_iteration=d["best_iteration"], snapshots_held=d["snapshots_held"],
        history=tuple(OuterIteration(**h) for h in d["history"]),
        checkpoints=tuple(LawCheckpoint(**c) for c in d["law_checkpoints"]),
        timings=dict(d["timings"]), artifacts=d["artifacts"], warnings=tuple(d["warnings"]),
        comparison=_optional(_comparison_from_dict, d.get("comparison")),
        zero_weight_fraction_positive=d.get("zero_weight_fraction_positive_optimal"),
        nonpositive_weight=d.get("nonpositive_weight_optimal"),
    )  # fmt: skip


def _optional(read: Callable[[Any], T], value: Any) -> T | None:
    return None if value is None else read(value)


# -- fitting's comparison, whole, as JSON --------------------------------------------------------
# Led by the dataclasses' own fields and annotations, so a field fitting adds is written and read
# with no change here (and one written before it existed reads back as its default).


def _measured_to_dict(m: MeasuredRatio | None) -> dict[str, Any] | None:
    return None if m is None else _plain(m)


def _measured_from_dict(d: Mapping[str, Any]) -> MeasuredRatio:
    return _typed(MeasuredRatio, d)


def _comparison_to_dict(c: ComparisonResult) -> dict[str, Any]:
    return _plain(c)


def _comparison_from_dict(d: Mapping[str, Any]) -> ComparisonResult:
    return _typed(ComparisonResult, d)


def _plain(value: Any) -> Any:
    """JSON values: a dataclass as an object of its fields, an array with its shape, an enum as its value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        return {"shape": list(value.shape), "values": value.ravel().tolist()}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _typed(kind: Any, value: Any) -> Any:
    """The inverse of _plain, for a value of the annotated type `kind`."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):  # X | None, the only unions fitting's results use
        if value is None:
            return None
        (kind,) = [a for a in args if a is not type(None)]
        return _typed(kind, value)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        given = {f.name: _typed(hints[f.name], value[f.name]) for f in dataclasses.fields(kind) if f.name in value}
        return kind(**given)
    if kind is np.ndarray:
        return np.asarray(value["values"], dtype=float).reshape(value["shape"])
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(value)
    if origin in (list, abc.Sequence):
        return [_typed(args[0], v) for v in value]
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_typed(args[0], v) for v in value)
        return tuple(_typed(a, v) for a, v in zip(args, value, strict=True))
    if origin in (dict, abc.Mapping):
        return {k: _typed(args[1], v) for k, v in value.items()}
    if kind is float:
        return float(value)
    if kind in (int, str, bool):
        return value
    raise TypeError(f"no JSON form for {kind!r}")


def _or_nan(value: Any) -> float:
    return float("nan") if value is None else float(value)
