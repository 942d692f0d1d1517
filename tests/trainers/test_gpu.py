"""The trainers on CUDA give the CPU's result: the conventional run, one outer iteration of the
policy search (J, dJ/dgamma and the step), and a whole small run. Skipped without CUDA.

Tolerances: in float64 only the order of the sums differs between the devices' kernels
(rounding ~1e-16 relative a step), so curves, gradients and policies agree to 1e-9 relative
after tens of steps. In float32 (the LM's default dtype) rounding is ~1e-7 a step: 1e-4.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from trainers.adjoint import policy_gradient
from trainers.config import PerceptronConfig, RunSpec, SearchConfig
from trainers.gd import train, uniform_policy
from trainers.runner import run
from trainers.search import step_policy
from trainers.tasks.base import Task
from trainers.tasks.perceptron import build_perceptron
from trainers.tasks.transformer import build_transformer

from .conftest import TINY_LM

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: the CPU-against-GPU checks"),
]

CUDA = torch.device("cuda")
CPU = torch.device("cpu")
STEPS, ETA = 20, 0.5
TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4}  # relative


def build(name: str, device: torch.device, dtype: torch.dtype) -> Task:
    if name == "perceptron":
        cfg = PerceptronConfig(dim=16, train_size=96, desired_size=32, test_size=32, label_noise=0.05)
        return build_perceptron(cfg, holdout=0.25, seed=5, device=device, dtype=dtype)
    return build_transformer(TINY_LM, holdout=0.25, seed=5, device=device, dtype=dtype)


CASES = [("perceptron", torch.float64), ("transformer_lm", torch.float64), ("transformer_lm", torch.float32)]


@pytest.mark.parametrize(("name", "dtype"), CASES, ids=lambda v: str(v).removeprefix("torch."))
def test_the_conventional_run_on_cuda_equals_the_cpu(name: str, dtype: torch.dtype) -> None:
    on_cpu, on_gpu = (train(build(name, device, dtype), STEPS, ETA) for device in (CPU, CUDA))
    assert on_gpu.theta_final.device.type == "cuda"
    rtol = TOLERANCE[dtype]
    for split in ("train", "desired", "holdout", "test"):
        np.testing.assert_allclose(getattr(on_gpu, split), getattr(on_cpu, split), rtol=rtol, err_msg=split)
    torch.testing.assert_close(on_gpu.theta_final.cpu(), on_cpu.theta_final, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize(("name", "dtype"), CASES, ids=lambda v: str(v).removeprefix("torch."))
def test_one_outer_iteration_on_cuda_equals_the_cpu(name: str, dtype: torch.dtype) -> None:
    """J, dJ/dgamma by the adjoint (the closed form for the perceptron, the double-backward for
    the LM) and the projected step from the uniform policy."""
    results = {}
    for device in (CPU, CUDA):
        task = build(name, device, dtype)
        gamma = uniform_policy(task, STEPS)
        pg = policy_gradient(task, gamma, ETA, checkpoint_every=4)
        results[device.type] = (pg.J, pg.grad.cpu(), step_policy(gamma, pg.grad, 1.0, "normalized").cpu())
    (j_cpu, grad_cpu, next_cpu), (j_gpu, grad_gpu, next_gpu) = results["cpu"], results["cuda"]
    rtol = TOLERANCE[dtype]
    assert j_gpu == pytest.approx(j_cpu, rel=rtol)
    scale = float(grad_cpu.abs().max())
    torch.testing.assert_close(grad_gpu, grad_cpu, rtol=rtol, atol=rtol * scale)
    torch.testing.assert_close(next_gpu, next_cpu, rtol=rtol, atol=rtol / grad_cpu.shape[1])


def test_a_whole_run_on_cuda_equals_the_cpu() -> None:
    """trainers.run end to end: the task on the GPU, one outer iteration, the diagnostics and the
    fits (on the host) of curves that agree to float64 rounding."""
    spec = RunSpec(
        steps=30, eta=0.1, bootstrap=10, dtype="float64",
        perceptron=PerceptronConfig(dim=8, train_size=64, desired_size=64, test_size=64),
        search=SearchConfig(outer_iters=1, law_checkpoints=2),
    )  # fmt: skip
    on_cpu = run(replace(spec, device="cpu"))
    on_gpu = run(replace(spec, device="cuda"))
    assert on_gpu.outcome.device.startswith("cuda") and on_cpu.outcome.device == "cpu"
    for a, b in ((on_gpu.conventional, on_cpu.conventional), (on_gpu.optimal, on_cpu.optimal)):
        assert a is not None and b is not None
        np.testing.assert_allclose(a.curves.test, b.curves.test, rtol=1e-9)
    for a, b in zip(on_gpu.outcome.history, on_cpu.outcome.history, strict=True):
        assert (a.j_desired, a.j_test) == pytest.approx((b.j_desired, b.j_test), rel=1e-9)
    gpu, cpu = on_gpu.outcome, on_cpu.outcome
    assert gpu.best_iteration == cpu.best_iteration
    assert gpu.conventional.cr == pytest.approx(cpu.conventional.cr, rel=1e-9)
    assert gpu.conventional.sim == pytest.approx(cpu.conventional.sim, rel=1e-6)
