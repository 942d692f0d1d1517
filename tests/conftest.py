"""Hypothesis profiles. `ci`, which `make test` (and so .ci/run) selects, is derandomized: the
examples are a function of the test alone, so a failure in CI reproduces with the same command on
any machine, and its reproduction blob is printed. A bare `pytest` keeps Hypothesis' default
(fresh random examples, failures replayed from .hypothesis/); `--hypothesis-profile=ci` picks the
CI one."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
