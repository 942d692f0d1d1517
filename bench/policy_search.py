"""Policy-search cost, side by side: ours against the reference code's way and plain autograd.

    python bench/policy_search.py [--quick] [--threads K] [--sections 1234]

1. One outer iteration (forward, checkpointed adjoint, projection) against one conventional
   run of the same T, perceptron at the paper's size (target <= 4x; medians of three interleaved
   runs), and the parameter-sized tensors each way of computing the gradient holds at once.
2. Memory as T grows (a small Transformer LM, each variant in a fresh process): ours (snapshots
   every sqrt(T) steps), the same adjoint keeping every theta_t, and autograd through the
   unrolled loop. Seconds and peak RSS from one run, then the tensors counted in a second.
3. One outer iteration, ours against the reference style (every theta_t kept, N per-example
   gradients materialised by vmap at every step, one cvxpy QP projection per row: cvxpy warmed
   up first, then a sample of rows timed and scaled to T) and against autograd through the
   unrolled loop (target >= 10x over the reference style).
4. The per-step product of the adjoint, reverse mode (one double-backward, the default) against
   forward mode (a JVP of the gradient): the product alone and a whole policy gradient.

Every count printed is measured: TensorCensus follows each tensor storage the computation
allocates (a TorchDispatchMode) until it is freed, and reports the most parameter-sized ones
(|theta| elements: snapshots, recomputed parameters, gradients) alive at once and the peak bytes
of all of them. Timings interleave the variants and take medians; on a shared machine pass
--threads 1 (torch's thread pool spins badly when other processes hold the cores).
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import statistics
import time
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from trainers.adjoint import policy_gradient, weighted_hvp_and_jvp
from trainers.config import PerceptronConfig, TransformerConfig
from trainers.gd import train, uniform_policy
from trainers.reference import qp_project_row, reference_style_policy_gradient, unrolled_policy_gradient
from trainers.search import step_policy
from trainers.tasks.base import Task
from trainers.tasks.perceptron import build_perceptron
from trainers.tasks.transformer import build_transformer

CPU = torch.device("cpu")
LM = TransformerConfig(
    n_layers=2, d_model=64, n_heads=4, context=32, vocab_size=500, train_size=256, desired_size=64, test_size=64
)
MEMORY_N = 8  # few sequences: the parameter vectors, not activations, dominate what T changes


def lm_task(train_size: int = LM.train_size) -> Task:
    cfg = TransformerConfig(**{**LM.__dict__, "train_size": train_size})
    return build_transformer(cfg, holdout=0.0, seed=0, device=CPU, dtype=torch.float32)


def perceptron_task() -> Task:
    return build_perceptron(PerceptronConfig(), holdout=0.25, seed=0, device=CPU, dtype=torch.float64)


class TensorCensus(TorchDispatchMode):
    """Counts the tensor storages created inside `with TensorCensus(n):` until each is freed:
    `peak_vectors`, the most with exactly n elements alive at once, and `peak_bytes` of all.
    Storages alive before the block (the task's data and theta0) are not counted."""

    def __init__(self, n_params: int):
        super().__init__()
        self.n_params = n_params
        with warnings.catch_warnings():  # isinstance() touches deprecated torch attributes on the way
            warnings.simplefilter("ignore")
            tensors = [o for o in gc.get_objects() if isinstance(o, torch.Tensor)]
        self.before = {t.untyped_storage().data_ptr() for t in tensors}
        self.live: set[int] = set()
        self.vectors = self.peak_vectors = 0
        self.bytes = self.peak_bytes = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self._track(t)
        return out

    def _track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        ptr, size = storage.data_ptr(), storage.nbytes()
        if size == 0 or ptr in self.live or ptr in self.before:  # a view, an in-place result, old data
            return
        vector = size == self.n_params * t.element_size()
        self.live.add(ptr)
        self.bytes += size
        self.vectors += vector
        self.peak_bytes = max(self.peak_bytes, self.bytes)
        self.peak_vectors = max(self.peak_vectors, self.vectors)
        weakref.finalize(storage, self._freed, ptr, size, vector)  # storages keep their PyObject alive

    def _freed(self, ptr: int, size: int, vector: bool) -> None:
        self.live.discard(ptr)
        self.bytes -= size
        self.vectors -= vector


def census(task: Task, fn: Callable[[], Any]) -> TensorCensus:
    with TensorCensus(int(task.theta0.numel())) as counted:
        fn()
    return counted


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def medians(variants: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Seconds per call of each variant, the median of `rounds` runs taken in turn (after one
    untimed warm-up each), so a burst of load elsewhere hits every variant alike."""
    for fn in variants.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            times[name].append(timed(fn)[0])
    return {name: statistics.median(ts) for name, ts in times.items()}


def outer_iteration(task: Task, steps: int, eta: float, mode: str = "reverse") -> float:
    gamma = uniform_policy(task, steps)
    seconds, pg = timed(policy_gradient, task, gamma, eta, mode=mode)
    proj, _ = timed(step_policy, gamma, pg.grad, 0.5, "normalized")
    return seconds + proj


# -- 1. an outer iteration against a conventional run ---------------------------------------------


def outer_against_conventional(steps: int) -> None:
    print("\n1. One outer iteration against one conventional run (perceptron, D 128, N 4096, float64, CPU)")
    task = perceptron_task()
    seconds = medians({"conv": lambda: train(task, steps, 0.1), "outer": lambda: outer_iteration(task, steps, 0.1)}, 3)
    conv, outer = seconds["conv"], seconds["outer"]
    print(f"   T = {steps}: conventional run {conv:.2f} s, outer iteration {outer:.2f} s", end=" ")
    print(f"-> {outer / conv:.2f}x (target <= 4x)")
    gamma = uniform_policy(task, steps)
    ours = census(task, lambda: policy_gradient(task, gamma, 0.1))
    ref = census(task, lambda: reference_style_policy_gradient(task, gamma, 0.1))
    print(f"   parameter-sized tensors alive at once, counted: ours {ours.peak_vectors}", end="")
    print(f" (2 sqrt(T) = {2 * steps**0.5:.0f}), the reference style {ref.peak_vectors} (T + 1 = {steps + 1})")


# -- 2. memory as T grows, each variant in a fresh process -----------------------------------------


def memory_as_t_grows(n_params: int, lengths: tuple[int, ...], threads: int) -> None:
    print(f"\n2. Memory as T grows (Transformer LM, {n_params} parameters, N {MEMORY_N}, float32,", end=" ")
    print(f"{n_params * 4 / 2**20:.2f} MB per parameter vector, each run in a fresh process)")
    print(f"   {'T':>6} {'variant':<30}{'seconds':>9}{'peak RSS +MB':>14}{'theta held':>12}{'tensors MB':>12}")
    for steps in lengths:
        for variant in ("ours", "keep every theta", "autograd through the loop"):
            if variant.startswith("autograd") and steps > 64:
                print(f"   {steps:>6} {variant:<30}{'skipped: graph memory grows linearly (see above)':>35}")
                continue
            seconds, mb, held, tensor_mb = in_fresh_process(variant, steps, threads)
            print(f"   {steps:>6} {variant:<30}{seconds:>9.2f}{mb:>14.1f}{held:>12}{tensor_mb:>12.1f}")
    print("   (theta held: the most |theta|-sized tensors alive at once, counted; tensors MB: their peak, all sizes)")


def rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MB (Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as fh:  # "5" resets VmHWM to the current RSS
        fh.write("5")


def gradient_of(variant: str, task: Task, gamma: torch.Tensor) -> Callable[[], Any]:
    if variant == "ours":
        return lambda: policy_gradient(task, gamma, 0.1)
    if variant == "keep every theta":
        return lambda: policy_gradient(task, gamma, 0.1, checkpoint_every=1)
    return lambda: unrolled_policy_gradient(task, gamma, 0.1)


def memory_worker(variant: str, steps: int, threads: int, queue: Any) -> None:
    torch.set_num_threads(threads)
    task = lm_task(MEMORY_N)
    run = gradient_of(variant, task, uniform_policy(task, steps))
    reset_peak_rss()
    base = rss_mb("VmRSS")
    seconds, _ = timed(run)
    peak = rss_mb("VmHWM") - base
    counted = census(task, run)
    queue.put((seconds, peak, counted.peak_vectors, counted.peak_bytes / 2**20))


def in_fresh_process(variant: str, steps: int, threads: int) -> tuple[float, float, int, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=memory_worker, args=(variant, steps, threads, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


# -- 3. ours against the reference style -----------------------------------------------------------


def compare_outer_iteration(name: str, task: Task, steps: int, qp_rows: int) -> None:
    gamma = uniform_policy(task, steps)
    policy_gradient(task, gamma[:2], 0.1)  # warm-up
    ours_s = outer_iteration(task, steps, 0.1)
    ref_grad_s, (_, ref_grad) = timed(reference_style_policy_gradient, task, gamma, 0.1)
    rows = min(qp_rows, steps)
    qp_project_row(gamma[0] - 1e-3 * ref_grad[0])  # cvxpy imported and its solver set up, untimed
    qp_s, _ = timed(lambda: [qp_project_row(gamma[t] - 1e-3 * ref_grad[t]) for t in range(rows)])
    ref_total = ref_grad_s + qp_s / rows * steps
    unrolled_s, _ = timed(unrolled_policy_gradient, task, gamma, 0.1)
    label = f"{name}, T {steps}"
    for variant, seconds in (
        ("ours: checkpointed adjoint + sort projection", ours_s),
        ("reference: per-example gradients (gradient only)", ref_grad_s),
        (f"reference: + one cvxpy QP per row ({1e3 * qp_s / rows:.0f} ms/row)", ref_total),
        ("autograd through the unrolled loop (gradient only)", unrolled_s),
    ):
        print(f"   {label:<34}{variant:<52}{seconds:>9.2f}{seconds / ours_s:>7.1f}x")


# -- 4. reverse against forward mode ---------------------------------------------------------------


MODES_COMPARED = ("reverse", "forward")  # the generic modes; bench/perceptron_iteration.py times the fused one


def compare_modes(name: str, task: Task, steps: int, rounds: int) -> None:
    theta = task.theta0 + 0.01
    weights = uniform_policy(task, 1)[0]
    tangent = torch.randn(theta.shape, generator=torch.Generator().manual_seed(0), dtype=theta.dtype)
    product = medians(
        {mode: lambda mode=mode: weighted_hvp_and_jvp(task, theta, weights, tangent, mode) for mode in MODES_COMPARED},
        rounds,
    )
    gamma = uniform_policy(task, steps)
    whole = medians(
        {mode: lambda mode=mode: policy_gradient(task, gamma, 0.1, mode=mode) for mode in MODES_COMPARED}, 3
    )
    for what, seconds in (("one product (HVP and N dot products)", product), (f"policy gradient, T {steps}", whole)):
        rev, fwd = seconds["reverse"], seconds["forward"]
        print(f"   {name:<34}{what:<40}{1e3 * rev:>12.2f}{1e3 * fwd:>12.2f}{fwd / rev:>9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller T everywhere")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--sections", default="1234", help="which sections to run, e.g. 14")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} CPU thread(s)")
    n_params = int(lm_task().theta0.numel())
    quick = args.quick
    if "1" in args.sections:
        outer_against_conventional(500 if quick else 2000)
    if "2" in args.sections:
        memory_as_t_grows(n_params, (16, 64) if quick else (16, 64, 256, 1024), threads)
    if "3" in args.sections:
        print("\n3. One outer iteration: ours against the reference style and autograd through the loop")
        print(f"   {'task':<34}{'variant':<52}{'seconds':>9}{'ratio':>8}")
        qp_rows = 16 if quick else 64
        compare_outer_iteration("perceptron D 128, N 4096", perceptron_task(), 200 if quick else 2000, qp_rows)
        compare_outer_iteration(f"LM {n_params} params, N {LM.train_size}", lm_task(), 8 if quick else 32, qp_rows)
        print(f"   (target >= 10x over the reference style; QP: cvxpy warmed up, {qp_rows} rows timed, scaled to T)")
    if "4" in args.sections:
        print("\n4. The adjoint's per-step product: reverse mode (default) against forward mode")
        print(f"   {'task':<34}{'what':<40}{'reverse ms':>12}{'forward ms':>12}{'fwd/rev':>10}")
        compare_modes("perceptron D 128, N 4096", perceptron_task(), 100 if quick else 500, 20)
        compare_modes(f"LM {n_params} params, N {LM.train_size}", lm_task(), 4 if quick else 8, 5)
        print("   (medians of interleaved runs; fwd/rev > 1: reverse mode is that many times faster)")


if __name__ == "__main__":
    main()
