"""Tiny CPU tasks for the trainer tests (seconds each)."""

from __future__ import annotations

import pytest
import torch

from trainers.config import PerceptronConfig, TransformerConfig
from trainers.tasks.base import Task
from trainers.tasks.perceptron import build_perceptron
from trainers.tasks.transformer import build_transformer

CPU = torch.device("cpu")
TINY_LM = TransformerConfig(
    n_layers=1,
    d_model=16,
    n_heads=2,
    context=8,
    vocab_size=60,
    train_size=24,
    desired_size=8,
    test_size=8,
    micro_batch=10,
)


def tiny_perceptron(dtype: torch.dtype = torch.float64, **changes: object) -> Task:
    cfg = PerceptronConfig(dim=6, train_size=32, desired_size=16, test_size=16)
    cfg = PerceptronConfig(**{**cfg.__dict__, **changes})
    return build_perceptron(cfg, holdout=0.25, seed=3, device=CPU, dtype=dtype)


def tiny_lm(dtype: torch.dtype = torch.float64) -> Task:
    return build_transformer(TINY_LM, holdout=0.25, seed=3, device=CPU, dtype=dtype)


@pytest.fixture(params=["perceptron", "transformer_lm"])
def task(request: pytest.FixtureRequest) -> Task:
    return tiny_perceptron() if request.param == "perceptron" else tiny_lm()


def random_policy(task: Task, steps: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    raw = torch.rand(steps, task.n_train, generator=g, dtype=task.theta0.dtype)
    return raw / raw.sum(dim=1, keepdim=True)
