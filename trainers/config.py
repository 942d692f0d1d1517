"""Frozen configurations of a training run, saved with every artifact.

Defaults are the paper's settings (Gu et al. 2024, §4; docs/paper.md). `RunSpec.validate()` rejects a bad
configuration with InvalidInputError naming the field, before any work starts.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from fitting.errors import InvalidInputError
from trainers.corpus import corpus_file
from trainers.schedule import SCHEDULES

TASKS = ("perceptron", "transformer_lm")
DEVICES = ("auto", "cpu", "cuda")
OPTIMIZERS = ("sgd", "normalized", "eg", "rowwise")
DTYPES = ("auto", "float32", "float64")


@dataclass(frozen=True)
class PerceptronConfig:
    """Teacher-student perceptron: y = 1[w.z > 0], w ~ N(0, sqrt(D) I); model sigmoid(theta.z)."""

    dim: int = 128
    train_size: int = 4096
    desired_size: int = 512
    test_size: int = 512
    train_var: float = 3.0  # training inputs z ~ N(0, train_var I)
    target_shift: float = 0.5  # desired and test inputs z ~ N(target_shift * 1, I)
    label_noise: float = 0.0  # share of training labels flipped
    # cos(teacher, the shift direction 1/sqrt(D)); None: as drawn (the paper). The drawn cosine sets
    # how far the target classes are from balanced, and with it the conventional CR (3.9 to 6.8 over
    # seeds 0-9 at 3 % noise); 0 balances them on every seed (docs/reproduction.md, Calibration)
    teacher_shift_cos: float | None = None


@dataclass(frozen=True)
class TransformerConfig:
    """The paper's LM: pre-norm decoder, ReLU FFN, untied output head (~1.68M params at V=5000)."""

    n_layers: int = 2
    d_model: int = 128
    n_heads: int = 8
    context: int = 64
    vocab_size: int = 5000
    ffn_mult: int = 4
    train_size: int = 16384
    desired_size: int = 512
    test_size: int = 512
    perturb_share: float = 0.5  # share of training sequences perturbed
    perturb_ops: int = 20  # random operations per perturbed sequence
    corpus: str | None = None  # .txt or .jsonl path, or "builtin:NAME" (trainers/data); None: generated stories
    micro_batch: int = 512  # sequences per forward pass (memory only; results do not change)


# Parts of the desired set whose signs must agree: each costs one policy gradient per outer iteration,
# and each keeps fewer entries (at the paper preset's uniform policy 2 parts keep 74 %, 4 parts 46 %)
MAX_AGREEMENT_SPLITS = 8


@dataclass(frozen=True)
class SearchConfig:
    """Near-optimal policy search: projected descent on gamma (T x N) from the uniform policy."""

    outer_iters: int = 0  # 0: conventional learning only
    outer_lr: float = 1.0  # sgd: raw step size; normalized, rowwise: entries move ~lr/N; eg: exponent scale
    optimizer: Literal["sgd", "normalized", "eg", "rowwise"] = "normalized"
    warmup: int = -1  # outer iterations of linear warm-up of the step size; -1: 3 for normalized, else 0
    holdout: float = 0.25  # share of the desired set held out to select the policy (never the test set)
    policy_blocks: int = 0  # > 0: gamma shared over that many equal spans of steps (regularisation)
    extend_steps: int = 0  # search over T + this many steps, keep the first T rows (no end effect)
    checkpoint_every: int = 0  # 0: every theta_t when |theta| <= N (the perceptron), else ceil(sqrt(T)) steps
    diagnostics_every: int = 0  # 0: about 50 steps of Learning-Law diagnostics over the run
    law_checkpoints: int = 0  # outer iterations (spread evenly) at which SIM, CR and AR are measured
    # > 1: dJ/dgamma kept only where that many parts of the desired set agree on its sign (trainers.agreement)
    agreement_splits: int = 0

    @property
    def warmup_iters(self) -> int:
        if self.warmup >= 0:
            return self.warmup
        return 3 if self.optimizer == "normalized" else 0


@dataclass(frozen=True)
class RunSpec:
    task: Literal["perceptron", "transformer_lm"] = "perceptron"
    steps: int = 2000  # T
    eta: float = 0.1
    lr_schedule: str = "constant"  # the inner rate over the steps: constant, cosine, wsd, step (trainers/schedule.py)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "float64"] = "auto"  # auto: float64 perceptron, float32 LM
    fit_x_min: int = 0  # fits use steps >= fit_x_min; 0: fit_start_share x T
    fit_start_share: float = 0.1  # where fit_x_min is 0, the fits start at this share of T (paper: t0 400 of 4000)
    bootstrap: int = 200
    out_dir: str | None = None
    perceptron: PerceptronConfig = field(default_factory=PerceptronConfig)
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    search: SearchConfig = field(default_factory=SearchConfig)

    def validate(self) -> RunSpec:
        """Check every field; returns self so it chains."""
        _choice("task", self.task, TASKS)
        _choice("device", self.device, DEVICES)
        _choice("dtype", self.dtype, DTYPES)
        _choice("lr_schedule", self.lr_schedule, SCHEDULES)
        _choice("search.optimizer", self.search.optimizer, OPTIMIZERS)
        if not isinstance(self.steps, int) or self.steps < 2:
            raise InvalidInputError(f"must be an integer >= 2, got {self.steps!r}", field="steps")
        _positive("eta", self.eta)
        _positive("search.outer_lr", self.search.outer_lr)
        _at_least("search.outer_iters", self.search.outer_iters, 0)
        _at_least("search.checkpoint_every", self.search.checkpoint_every, 0)
        _at_least("search.diagnostics_every", self.search.diagnostics_every, 0)
        _at_least("search.policy_blocks", self.search.policy_blocks, 0)
        _at_least("search.extend_steps", self.search.extend_steps, 0)
        _at_least("search.agreement_splits", self.search.agreement_splits, 0)
        if self.search.agreement_splits > MAX_AGREEMENT_SPLITS:  # each part costs a policy gradient
            raise InvalidInputError(
                f"must be at most {MAX_AGREEMENT_SPLITS}, got {self.search.agreement_splits}",
                field="search.agreement_splits",
            )
        _at_least("search.warmup", self.search.warmup, -1)
        _at_least("search.law_checkpoints", self.search.law_checkpoints, 0)
        _at_least("bootstrap", self.bootstrap, 0)
        _at_least("fit_x_min", self.fit_x_min, 0)
        _share("fit_start_share", self.fit_start_share, ends=False)  # 0 is no start, 1 no range
        if not 0.0 <= self.search.holdout < 1.0:
            raise InvalidInputError(f"must be in [0, 1), got {self.search.holdout}", field="search.holdout")
        if self.task == "perceptron":
            p = self.perceptron
            for name in ("dim", "train_size", "desired_size", "test_size"):
                _at_least(f"perceptron.{name}", getattr(p, name), 1)
            _positive("perceptron.train_var", p.train_var)
            _share("perceptron.label_noise", p.label_noise)
            if p.teacher_shift_cos is not None and not -1.0 < p.teacher_shift_cos < 1.0:
                raise InvalidInputError(
                    "perceptron.teacher_shift_cos must be in (-1, 1) or unset", field="perceptron.teacher_shift_cos"
                )
            desired = p.desired_size
        else:
            t = self.transformer
            for name in ("n_layers", "d_model", "n_heads", "context", "train_size", "desired_size", "test_size"):
                _at_least(f"transformer.{name}", getattr(t, name), 1)
            _at_least("transformer.vocab_size", t.vocab_size, 8)
            _at_least("transformer.ffn_mult", t.ffn_mult, 1)
            _at_least("transformer.micro_batch", t.micro_batch, 1)
            _at_least("transformer.perturb_ops", t.perturb_ops, 0)
            _share("transformer.perturb_share", t.perturb_share)
            if t.d_model % t.n_heads:
                raise InvalidInputError(
                    f"d_model {t.d_model} is not divisible by n_heads {t.n_heads}", field="transformer.n_heads"
                )
            if t.corpus is not None:
                path = corpus_file(t.corpus, field="transformer.corpus")
                if not path.is_file():
                    raise InvalidInputError(f"no such file: {t.corpus}", field="transformer.corpus")
                if path.stat().st_size == 0:
                    raise InvalidInputError(f"corpus file is empty: {t.corpus}", field="transformer.corpus")
            desired = t.desired_size
        if self.search.outer_iters and self.search.holdout > 0 and math.floor(desired * self.search.holdout) < 1:
            raise InvalidInputError("the held-out share leaves no held-out example", field="search.holdout")
        return self

    @property
    def resolved_dtype(self) -> str:
        if self.dtype != "auto":
            return self.dtype
        return "float64" if self.task == "perceptron" else "float32"

    @property
    def fit_from(self) -> int:
        return self.fit_x_min or max(1, math.floor(self.steps * self.fit_start_share + 1e-9))  # 0.29 x 100 is 28.99..

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        data = dict(data)
        nested = {"perceptron": PerceptronConfig, "transformer": TransformerConfig, "search": SearchConfig}
        for key, kind in nested.items():
            if key in data and isinstance(data[key], dict):
                data[key] = kind(**data[key])
        return cls(**data)


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidInputError(
            f"unknown {name.split('.')[-1]} {value!r}; choose one of {', '.join(allowed)}", field=name
        )


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InvalidInputError(f"must be > 0, got {value!r}", field=name)


def _at_least(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidInputError(f"must be an integer >= {low}, got {value!r}", field=name)


def _share(name: str, value: float, *, ends: bool = True) -> None:
    """value in [0, 1]; ends False: in (0, 1)."""
    if not (isinstance(value, int | float) and (0.0 <= value <= 1.0 if ends else 0.0 < value < 1.0)):
        span = "[0, 1]" if ends else "(0, 1)"
        raise InvalidInputError(f"must be a share in {span}, got {value!r}", field=name)
