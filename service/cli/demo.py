"""`make demo` / `scalinglaw demo`: the perceptron study, end to end through the service.

Starts `scalinglaw serve` as a real process on a temporary embedded store, starts a training job
(the paper preset: conventional learning and a near-optimal policy search at the paper's sizes,
fewer outer iterations for a CPU budget of a few minutes), follows its progress, prints the
comparison and whether the policy wins on the unseen test set, writes demo-report.png, stops the
server.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from service.cli.server_process import ServerProcess
from service.client import ComparisonInfo, MeasuredInfo, ScalingLawClient
from service.formatting import interval, number, percent
from service.result_tables import measured


def run_demo(outer_iters: int = 40, report: str = "demo-report.png") -> None:
    with tempfile.TemporaryDirectory(prefix="scalinglaw-demo-") as data_dir:
        server = ServerProcess(data_dir, host="127.0.0.1")
        try:
            with ScalingLawClient(server.target) as client:
                print(f"server on {server.target}, embedded store in {data_dir}")
                # the calibrated preset (docs/reproduction.md); no SIM/CR checkpoints, to save minutes
                job = client.start_training(
                    "perceptron", preset="paper", device="cpu", study="demo",
                    search={"outer_iters": outer_iters, "law_checkpoints": 0},
                )  # fmt: skip
                print(f"job {job.id}: the paper preset (D 128, N 4096, T 2000), {outer_iters} outer iterations")
                for event in client.watch(job.id):
                    bar = "#" * int(30 * event.progress)
                    print(f"\r[{bar:<30}] {event.progress:5.1%} {event.message[:60]:<60}", end="", flush=True)
                print()
                done = client.get_job(job.id)
                if done.state != "SUCCEEDED":
                    raise SystemExit(f"job {done.state}: {done.error}")
                if done.comparison is None:
                    raise SystemExit("the job succeeded without a comparison")
                print_comparison(done.comparison, done.summary)
                client.report(job_id=job.id, path=report)
                print(f"report written to {Path(report).resolve()}")
        finally:
            server.terminate(timeout=30)


def print_comparison(result: ComparisonInfo, s: dict[str, object]) -> None:
    """The job's own comparison of its test curves (made by the run, with its fit options)."""
    steps = int(s["steps"])  # type: ignore[call-overload]
    (cand,) = result.candidates
    fc, fo = result.baseline_fit, cand.fit
    print(f"\n{'':<28}{'conventional':>16}{'near-optimal':>16}")
    rows = [
        ("test AUC (nats x steps)", result.baseline_auc, cand.auc),
        ("CR (paper units)", result.baseline_cr, cand.cr),
        ("SIM", s["sim_conventional"], s["sim_optimal"]),
        ("L0 (shared)" if "L0" in fc.shared else "L0", fc.params["L0"], fo.params["L0"]),
        ("B", fc.params["B"], fo.params["B"]),
        ("beta", fc.params["beta"], fo.params["beta"]),
        ("fit r^2 (log L)", fc.r2, fo.r2),
    ]
    laws = {"conventional": fc.verdict, "near-optimal": fo.verdict}
    for name, a, b in rows:
        print(f"{name:<28}{number(a):>16}{number(b):>16}")  # type: ignore[arg-type]
    print(f"CR units: {result.cr_units}")
    if result.shared_floor.tested:
        print(f"floor: {result.shared_floor.reason}")
    for who, v in laws.items():
        print(f"law on the {who} curve: {'describes it' if v.good else 'poor'} ({v.reason})")
    print("\nAcceleration ratio of the near-optimal policy (95 % bootstrap interval)")
    if cand.verdict.poor:  # a fit-based number with a poor verdict is not shown bare
        print(f"  (!) the AR from the fits is not to be read: {cand.verdict.reason}")
        print("      the measured AR is:")
        print(f"  T = {number(float(steps)):>6}: measured {measured(cand.ar_measured.get(float(steps)))}")
    else:
        for horizon, est in cand.ar_fit.items():
            extra = f"   measured {measured(cand.ar_measured[horizon])}" if horizon <= steps else ""
            print(f"  T = {number(horizon):>6}: {interval(est.value, est.low, est.high)}{extra}")
        b, beta = cand.b_improvement, cand.beta_improvement
        changes = f"|dB/B| = {interval(b.value, b.low, b.high)}"
        print(f"{changes}, |dbeta/beta| = {interval(beta.value, beta.low, beta.high)}")
    print(f"selected outer iteration {s['best_iteration']} of {s['outer_iters']} (the lowest desired area)")
    zero, on_nonpositive = s.get("zero_weight_fraction_optimal"), s.get("nonpositive_weight_optimal")
    if isinstance(zero, float) and isinstance(on_nonpositive, float):
        print(
            f"near-optimal policy: zero weight for {percent(zero)} of the pairs with CT <= 0, "
            f"{percent(on_nonpositive)} of its weight on them (the Learning Law: near 100 % and near 0)"
        )
    print(verdict(cand.ar_measured.get(float(steps))))


def verdict(ar: MeasuredInfo | None) -> str:
    """Whether the policy learns faster on the test set, as the measured AR's interval says."""
    if ar is None:
        return "The near-optimal policy's test AR at T was not measured."
    if ar.reach != "measured":
        return f"The near-optimal policy's test AR at T could not be measured: {ar:.3g}."
    if ar.low > 1.0:
        return (
            f"The near-optimal policy wins on the unseen test set: it reaches the conventional test loss "
            f"at T in 1/{ar.value:.2f} of the steps (95 % interval of AR {ar.low:.2f} to {ar.high:.2f}, above 1)."
        )
    return f"No clear win on the test set: AR at T {ar:.3g}, an interval that reaches 1 or below."
