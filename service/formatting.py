"""Numbers as people read them in tables, legends and reports: 3.16e8 rather than 316227766.0,
0.12 rather than 0.1200000043, "-" where there is no value, "2.95 [2.81, 3.10]" for an interval.

Three significant digits: a fit's parameters and ratios are rarely known better than that, and more
digits suggest a precision the bootstrap does not give. `--json` keeps every digit.
"""

from __future__ import annotations

import math

MISSING = "-"  # no value: NaN (what the data does not give) or None (not asked)
_EXACT_INTEGERS_BELOW = 1e5  # steps and horizons such as 2000 or 20000 read better whole than as 2e3


def number(value: float | int | None, digits: int = 3) -> str:
    """3.16e8, 0.12, 2.95, 2000, 1.2e-5, inf, or "-" for None and NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    value = float(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < _EXACT_INTEGERS_BELOW:
        return str(int(value))
    text = f"{value:.{digits}g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"  # "e+08" -> "e8", "e-05" -> "e-5"


def interval(value: float | None, low: float | None, high: float | None, digits: int = 3) -> str:
    """ "2.95 [2.81, 3.1]"; the value alone when there is no interval (low or high missing)."""
    if _missing(low) or _missing(high):
        return number(value, digits)
    return f"{number(value, digits)} [{number(low, digits)}, {number(high, digits)}]"


def percent(share: float) -> str:
    """A 0..1 share as a whole percentage: progress bars and job tables."""
    return MISSING if _missing(share) else f"{100 * share:.0f}%"


def age(seconds: float) -> str:
    """How long ago, in its largest whole unit: 42s, 5m, 3h, 2d."""
    if _missing(seconds) or seconds < 0:
        return MISSING
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
