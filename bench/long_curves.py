"""Long curves, before and after, side by side in one run: a comparison of three 34k-point curves
with default settings, and a fit of one 100k-point curve with 200 resamples.

"before" is the code at --before (default: the commit this work started from), taken out of git
with `git archive` into a temporary directory; "after" is this checkout. Each side runs in its own
process, timed the same way (wall and process CPU seconds; the machine may be shared, so CPU is
the steadier figure).

1. Library: fitting.compare_curves with its defaults (after: 200 resamples, a long curve's
   resamples refitted on log-spaced bins) against the before side with --before-resamples (49 by
   default: the most the server allowed on these curves, which refused its own default of 200);
   fitting.fit_curve on 100k points with 200 resamples on both sides.
2. Service: a server process of each side; `scalinglaw compare A B C` with default flags (the CLI
   process's wall time: start-up, the RPC, the tables) after a warm-up call, and what the before
   side's CLI printed (it refused, and said so twice).
3. How far the estimates and interval ends moved, in units of the before interval's width.
4. Binning alone: after, resamples refitted on bins against on every point (resample_bins=0), same
   seed and resamples, on the real logs of tests/data/schedules and a synthetic 34k-point curve.

Curves: step_power (L0 2, B 3e3 x k, beta 0.3) at every step with 1 % AR(1) log-noise, phi 0.9.

    python bench/long_curves.py [--before REV] [--before-resamples 49] [--points 33908]
                                [--long-points 100000] [--skip-before] [--skip-service]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from source_tree import tree_at  # bench/ is on sys.path when this script runs

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "58279e0"  # main when the long-curves work started
SCHEDULES = ROOT / "tests" / "data" / "schedules"

# Run in a process of either side, PYTHONPATH at that side's tree; prints one JSON object.
SIDE = r"""
import json, math, sys, time
import numpy as np
import fitting
spec = json.loads(sys.argv[1])

def curve(n, k, seed):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n) * math.sqrt(1 - 0.81)
    from scipy.signal import lfilter
    noise = lfilter([1.0], [1.0, -0.9], e)
    x = np.arange(1.0, n + 1.0)
    return x, (2.0 + (3e3 * k / x) ** 0.3) * np.exp(0.01 * noise)

def fit_dict(f):
    return {"params": dict(f.params), "ci": {k: list(v) for k, v in f.ci.items()},
            "n_bootstrap": 0 if f.samples is None else len(f.samples), "message": f.message}

curves = [curve(spec["points"], k, i) for i, k in enumerate((1.0, 1.5, 2.0))]
kwargs = {} if spec["resamples"] is None else {"bootstrap": spec["resamples"]}
t, c = time.perf_counter(), time.process_time()
result = fitting.compare_curves(curves[0], curves[1:], **kwargs)
compare = {"wall": time.perf_counter() - t, "cpu": time.process_time() - c,
           "fits": [fit_dict(f) for f in [result.baseline_fit, *(r.fit for r in result.candidates)]],
           "ar": [[a.horizon, a.ar_fit.value, a.ar_fit.low, a.ar_fit.high] for r in result.candidates
                  for a in r.accelerations]}
x, loss = curve(spec["long_points"], 1.0, 9)
t, c = time.perf_counter(), time.process_time()
fit = fitting.fit_curve(x, loss, bootstrap=200)
long = {"wall": time.perf_counter() - t, "cpu": time.process_time() - c, "fit": fit_dict(fit)}
print(json.dumps({"compare": compare, "long": long}))
"""


def run_side(tree: Path, spec: dict[str, object]) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", SIDE, json.dumps(spec)], cwd=tree, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def shift(after: list[float], before: list[float], value_after: float, value_before: float) -> str:
    """How far the value and the interval ends moved, in units of the before interval's width."""
    width = before[1] - before[0]
    if not (math.isfinite(width) and width > 0):
        return "-"
    parts = (value_after - value_before, after[0] - before[0], after[1] - before[1])
    return "value {:+.2f}  low {:+.2f}  high {:+.2f}".format(*(p / width for p in parts))


def print_moves(after: dict, before: dict) -> None:  # type: ignore[type-arg]
    names = ["baseline", "k 1.5", "k 2"]
    for name, fa, fb in zip(names, after["compare"]["fits"], before["compare"]["fits"], strict=True):
        for p, v in fa["params"].items():
            print(f"  compare {name:<8} {p:<5} {shift(fa['ci'][p], fb['ci'][p], v, fb['params'][p])}")
    for aa, ab in zip(after["compare"]["ar"], before["compare"]["ar"], strict=True):
        print(f"  compare AR at T={aa[0]:<9.3g}   {shift(aa[2:], ab[2:], aa[1], ab[1])}")
    fa, fb = after["long"]["fit"], before["long"]["fit"]
    for p, v in fa["params"].items():
        print(f"  100k fit         {p:<5} {shift(fa['ci'][p], fb['ci'][p], v, fb['params'][p])}")


def service_side(tree: Path, points: int, label: str) -> None:
    """A server process of `tree`; three curves uploaded; its own CLI's `compare A B C`, default flags."""
    from service.client import ScalingLawClient

    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "PYTHONPATH": str(tree), "SCALINGLAW_PORT": "0", "SCALINGLAW_DATA_DIR": data}
        server = subprocess.Popen(
            [sys.executable, "-m", "service.server"], cwd=tree, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            assert server.stdout is not None
            port = next(int(line.rsplit(":", 1)[1]) for line in server.stdout if "listening on" in line)
            target = f"127.0.0.1:{port}"
            rng = np.random.default_rng(0)
            x = np.arange(1.0, points + 1.0)
            with ScalingLawClient(target, timeout=600) as client:
                ids = [
                    client.upload_curve(x, (2.0 + (3e3 * k / x) ** 0.3) * np.exp(0.01 * rng.standard_normal(points))).id
                    for k in (1.0, 1.5, 2.0)
                ]
                client.fit([ids[0]])  # warm-up: the server's fit workers have started and imported
            cli = [sys.executable, "-m", "service.cli", "--target", target, "compare", *ids]
            t = time.perf_counter()
            done = subprocess.run(cli, cwd=tree, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t
            if done.returncode == 0:
                notes = [line for line in done.stdout.splitlines() if line.startswith("intervals:")]
                print(f"  {label}: `scalinglaw compare A B C` {wall:.2f} s, exit 0; {'; '.join(notes)}")
            else:
                lines = done.stderr.strip().splitlines()
                print(f"  {label}: `scalinglaw compare A B C` exit {done.returncode} after {wall:.2f} s; stderr:")
                for line in lines:
                    print(f"    {line}")
        finally:
            server.kill()
            server.wait()


def binning_alone(points: int) -> None:
    """After: resamples refitted on bins against on every point, same seed and resamples."""
    import pandas as pd

    import fitting

    rng = np.random.default_rng(5)
    noise = np.zeros(points)
    e = rng.standard_normal(points) * math.sqrt(1 - 0.81)
    for i in range(1, points):
        noise[i] = 0.9 * noise[i - 1] + e[i]
    x = np.arange(1.0, points + 1.0)
    cases = {f"synthetic {points} points, AR(1) 0.9": (x, (2.0 + (3e3 / x) ** 0.3) * np.exp(0.01 * noise))}
    for name in ("llmc_gpt2_124m_cosine.csv", "moddednanogpt_adamw_wsd.csv"):
        frame = pd.read_csv(SCHEDULES / name)
        cases[name] = (frame["step"].to_numpy(float), frame["loss"].to_numpy(float))
    for name, (cx, closs) in cases.items():
        t = time.process_time()
        binned = fitting.fit_curve(cx, closs, x_min=10, bootstrap=200, seed=1)
        t_binned, t = time.process_time() - t, time.process_time()
        full = fitting.fit_curve(cx, closs, x_min=10, bootstrap=200, seed=1, resample_bins=0)
        t_full = time.process_time() - t
        same = binned.params == full.params
        bins = int(binned.extra["resample_bins"])
        print(f"  {name}: {binned.n_points} points, {bins} bins; estimate {'identical' if same else 'DIFFERENT'}; "
              f"cpu {t_binned:.2f} s binned, {t_full:.2f} s every point")  # fmt: skip
        for j, p in enumerate(binned.params):
            assert binned.samples is not None and full.samples is not None
            ratio = np.std(np.log(binned.samples[:, j])) / np.std(np.log(full.samples[:, j]))
            lo, hi = binned.ci[p]
            flo, fhi = full.ci[p]
            width = fhi - flo
            print(f"    {p:<5} every point [{flo:.4g}, {fhi:.4g}]  binned [{lo:.4g}, {hi:.4g}]  ends moved "
                  f"{(lo - flo) / width:+.2f}, {(hi - fhi) / width:+.2f} widths; spread ratio {ratio:.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default=BEFORE, help=f"the git revision of 'before' (default {BEFORE})")
    parser.add_argument("--before-resamples", type=int, default=49, help="the before comparison's resamples")
    parser.add_argument("--points", type=int, default=33_908, help="points of each compared curve")
    parser.add_argument("--long-points", type=int, default=100_000, help="points of the long fit")
    parser.add_argument("--skip-before", action="store_true", help="only this checkout")
    parser.add_argument("--skip-service", action="store_true", help="no server processes")
    args = parser.parse_args()
    print(f"cpus: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (the machine may be shared)")
    spec = {"points": args.points, "long_points": args.long_points}
    with tempfile.TemporaryDirectory() as tmp:
        before_tree = None if args.skip_before else tree_at(args.before, Path(tmp))
        after = run_side(ROOT, {**spec, "resamples": None})
        before = None if before_tree is None else run_side(before_tree, {**spec, "resamples": args.before_resamples})
        print(f"\n1. library, {os.cpu_count()} cores: wall s (cpu s)")
        rows = [
            (f"compare 3 x {args.points} points, defaults", "compare",
             f"{args.before_resamples} resamples", f"{after['compare']['fits'][0]['n_bootstrap']} resamples"),
            (f"fit {args.long_points} points, 200 resamples", "long", "200 resamples", "200 resamples"),
        ]  # fmt: skip
        print(f"  {'work':<42} {'before':>26} {'after':>26}")
        for title, key, before_note, after_note in rows:
            a = after[key]
            b = "-" if before is None else f"{before[key]['wall']:.2f} ({before[key]['cpu']:.2f}) {before_note}"
            print(f"  {title:<42} {b:>26} {a['wall']:.2f} ({a['cpu']:.2f}) {after_note:>14}")
        print(f"  after's note: {after['long']['fit']['message']}")
        if not args.skip_service:
            print("\n2. service, default flags (after a warm-up call)")
            if before_tree is not None:
                service_side(before_tree, args.points, "before")
            service_side(ROOT, args.points, "after")
        if before is not None:
            print("\n3. after - before, in units of the before interval's width (value, interval ends)")
            print_moves(after, before)
    print("\n4. binning alone (after): resamples refitted on bins against on every point, 200 resamples, seed 1")
    binning_alone(args.points)


if __name__ == "__main__":
    main()
