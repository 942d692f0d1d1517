"""Writes the example curves the demo fits (run once; the CSVs are committed).

Synthetic, seeded, and labelled as such: test-loss curves of 4000 steps that follow the
Learning-Law paper's Table 1 laws after a warm-up (conventional L0 + (3.16e8/t)^0.12, near-
optimal L0 + (1.99e7/t)^0.14, L0 = 0.0515), with a warm-up bump that fades before t ~ 400, 0.5 %
multiplicative noise and a few loss spikes, the way logged curves look.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent / "curves"
LAWS = {"conventional": (3.16e8, 0.12), "optimal": (1.99e7, 0.14)}
L0 = 0.0515


def make(policy: str, rng: np.random.Generator) -> pd.DataFrame:
    B, beta = LAWS[policy]
    step = np.arange(1, 4001)
    clean = L0 + (B / step) ** beta
    warmup = 1.0 + 0.3 * np.exp(-step / 60.0)
    loss = clean * warmup * np.exp(0.005 * rng.standard_normal(step.size))
    spikes = rng.choice(step.size, size=6, replace=False)
    loss[spikes] *= 1.15
    return pd.DataFrame({"step": step, "loss": loss})


def main() -> None:
    rng = np.random.default_rng(2024)
    HERE.mkdir(exist_ok=True)
    for policy in LAWS:
        make(policy, rng).to_csv(HERE / f"{policy}.csv", index=False, float_format="%.6f")


if __name__ == "__main__":
    main()
