"""Hypothesis strategies for law text: random expression trees (mostly inside the law language, now
and then just outside it) and random characters. Shared by the fitting property tests and the
service's hostile-input tests."""

from __future__ import annotations

from hypothesis import strategies as st

from fitting.formula import FUNCTIONS

PARAMS = ["a", "b", "E", "A", "alpha", "tau"]
# names a hostile caller would try, and names that are ours in another role
ODD_NAMES = ["_x", "__import__", "open", "exp", "pi", "e", "eval", "lambda", "None", "True", "x_b"]
ODD_NUMBERS = ["0", "1e308", "1e999", "1_000", "0x1f", "1j", "9999", "7" * 400]

_usual_leaves = st.one_of(
    st.just("x"),
    st.sampled_from(PARAMS),
    st.floats(-10.0, 10.0).map(lambda v: f"{v:.3g}"),
    st.sampled_from(["0.5", "1", "2", "3", "1e-3"]),
)
_odd_leaves = st.one_of(
    st.sampled_from(ODD_NAMES),
    st.sampled_from(ODD_NUMBERS),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
leaves = st.integers(0, 7).flatmap(lambda i: _odd_leaves if i == 0 else _usual_leaves)


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    op = st.sampled_from(["+", "-", "*", "/", "**"])
    usual = st.one_of(
        st.tuples(inner, op, inner).map(lambda t: f"({t[0]}){t[1]}({t[2]})"),
        st.tuples(inner, op, inner).map("".join),  # precedence as Python reads it
        st.tuples(st.sampled_from(["-", "+"]), inner).map("".join),
        st.tuples(st.sampled_from(list(FUNCTIONS)), inner).map(lambda t: f"{t[0]}({t[1]})"),
        inner.map(lambda s: f"({s})"),
    )
    odd = st.one_of(
        st.tuples(inner, st.sampled_from(["%", "//", "^", "@", "<", "==", " and ", " if x else ", ","]), inner).map(
            "".join
        ),
        st.tuples(st.sampled_from(["not ", "~"]), inner).map("".join),
        st.tuples(st.sampled_from(["open", "len", "eval", "getattr", "__import__"]), inner).map(
            lambda t: f"{t[0]}({t[1]})"
        ),
        st.tuples(st.sampled_from(list(FUNCTIONS)), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        inner.map(lambda s: f"{s}.real"),
        inner.map(lambda s: f"{s}[0]"),
    )
    return st.integers(0, 15).flatmap(lambda i: odd if i == 0 else usual)  # one node in 16 outside


_trees = st.recursive(leaves, _extend, max_leaves=16)
_frames = st.sampled_from(["{}", "a*x + ({})", "E + A * x**-({})", "E + A * exp(-x / ({}))", "({}) * x**-alpha"])
# bare trees, and trees set inside a law's usual shape so that most have parameters and use x
law_trees = st.tuples(_frames, _trees).map(lambda t: t[0].format(t[1]))
# Characters the language allows, some it does not, and anything at all.
law_characters = st.lists(
    st.one_of(st.sampled_from([*"xabE()+-*/.019e_,\t ", "**", "exp(", "log("]), st.characters()), max_size=120
).map("".join)
