"""Training runs under learning policies: conventional GD, near-optimal policy search by the
discrete adjoint, and the Learning-Law diagnostics (Gu et al. 2024, §2-4; docs/paper.md).

    result = trainers.run(trainers.RunSpec(task="perceptron", search=trainers.SearchConfig(outer_iters=20)))

Importing the package, its configuration (config.py), presets (presets.py), memory estimate
(footprint.py) or outcome (outcome.py) loads no torch: a server checks a job with them and never
pays for torch. The names below that train (`run` and its results) load it when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from trainers.config import PerceptronConfig, RunSpec, SearchConfig, TransformerConfig
from trainers.outcome import JobOutcome

if TYPE_CHECKING:
    from trainers.runner import PolicyOutcome, ProgressEvent, TrainingResult, run

_TORCH_NAMES = {"PolicyOutcome", "ProgressEvent", "TrainingResult", "run"}  # in trainers.runner

__all__ = [
    "JobOutcome",
    "PerceptronConfig",
    "PolicyOutcome",
    "ProgressEvent",
    "RunSpec",
    "SearchConfig",
    "TrainingResult",
    "TransformerConfig",
    "run",
]


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        return getattr(importlib.import_module("trainers.runner"), name)
    raise AttributeError(f"module 'trainers' has no attribute {name!r}")
