"""Training runs under learning policies: conventional GD, near-optimal policy search by the
discrete adjoint, and the Learning-Law diagnostics (Gu et al. 2024, §2-4; docs/paper.md).

    result = trainers.run(trainers.RunSpec(task="perceptron", search=trainers.SearchConfig(outer_iters=20)))
"""

from trainers.config import PerceptronConfig, RunSpec, SearchConfig, TransformerConfig
from trainers.run import PolicyOutcome, ProgressEvent, TrainingResult, run

__all__ = [
    "PerceptronConfig",
    "PolicyOutcome",
    "ProgressEvent",
    "RunSpec",
    "SearchConfig",
    "TrainingResult",
    "TransformerConfig",
    "run",
]
