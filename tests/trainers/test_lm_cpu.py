"""The `lm-cpu` preset on three seeds (docs/reproduction_lm.md): the Transformer LM on Pride and
Prejudice, in the power-law regime and accelerated by the searched policy on every seed. About
11 minutes of 2 quiet cores, so `make test-slow` runs it; the quick checks of its corpus are in
test_corpus.py."""

from __future__ import annotations

import numpy as np
import pytest

from fitting import Reach
from trainers.presets import PAPER_SEEDS, preset_spec
from trainers.reproduction import run_seeds

R2_MIN = 0.99  # both policies' step_power fits, from the preset's fit_x_min


@pytest.mark.slow
def test_the_lm_cpu_preset_is_in_the_power_law_regime_and_accelerated_on_every_seed() -> None:
    spec = preset_spec("lm-cpu")
    runs = run_seeds(spec, list(PAPER_SEEDS))
    assert len(runs) >= 3
    for seed_run in runs:
        o, seed = seed_run.outcome, seed_run.seed
        assert o.optimal is not None and o.fit_from == spec.fit_x_min == 30, seed
        assert not o.warnings, (seed, o.warnings)  # full-batch GD never raised its training loss
        test = seed_run.curves["conventional"]["test"]
        assert test[-1] < test[0] - 1.0, (seed, test[0], test[-1])  # trained well past initialisation
        assert min(o.conventional.r2, o.optimal.r2) >= R2_MIN, (seed, o.conventional.r2, o.optimal.r2)
        ar = o.ar_measured
        assert ar is not None and ar.reach is Reach.MEASURED and ar.has_interval, (seed, ar)
        assert ar.low > 1.0, (seed, ar)  # the whole 95 % interval above 1
        cr = [c.cr_test for c in sorted(o.checkpoints, key=lambda c: c.iteration)]
        assert len(cr) >= 3 and np.all(np.diff(cr) > 0), (seed, cr)  # CR rises over the outer iterations
        assert o.optimal.cr > o.conventional.cr, seed
