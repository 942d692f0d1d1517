"""The law language: text such as "E + A * x**-alpha" compiled to a vectorised numpy function.

A law given as text comes from whoever calls the service, so it is treated as hostile. It is
parsed with `ast` and only a small, fixed subset of the grammar is accepted: numbers, the law's
inputs (x), parameter names, + - * / **, unary minus and plus, parentheses and calls of the
one-argument numpy functions in FUNCTIONS. The text, the number of nodes and the nesting depth
are bounded before any tree is walked recursively, so checking costs microseconds whatever
arrives. Constant sub-expressions are folded in float64 with their magnitude checked before they
are computed: `9**9999` is refused from the logarithm of its size and never evaluated.

What is left is a tree of our own nodes. `Formula.evaluate` runs it elementwise with numpy;
`Formula.evaluate_with_gradient` also carries the derivatives with respect to every parameter
through the same pass (forward mode), which gives the fitting engine an exact Jacobian. No
general-purpose evaluator ever sees the text, and every refusal is an UnknownLawError on field
"law" that names the problem and its 0-based position in the text, in our own words.
"""

from __future__ import annotations

import ast
import math
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from fitting.errors import UnknownLawError

MAX_CHARS = 4096
MAX_NODES = 256  # numbers, names, operations and calls; real laws use 10-60
MAX_DEPTH = 64  # a sum of n terms nests n deep
MAX_PARAMS = 20
# A constant whose magnitude passes 10**300 is refused: it would overflow float64 at the next step.
MAX_LOG10 = 300.0

_ALLOWED = frozenset(string.ascii_letters + string.digits + "_.+-*/(), \t")
_LN10, _LN2 = math.log(10.0), math.log(2.0)

Value = np.ndarray | float
# name -> (the function, its derivative from the argument a and the value v = f(a))
FUNCTIONS: dict[str, tuple[Callable[[Value], Value], Callable[[Value, Value], Value]]] = {
    "exp": (np.exp, lambda a, v: v),
    "expm1": (np.expm1, lambda a, v: v + 1.0),
    "log": (np.log, lambda a, v: 1.0 / a),
    "log1p": (np.log1p, lambda a, v: 1.0 / (1.0 + a)),
    "log10": (np.log10, lambda a, v: 1.0 / (a * _LN10)),
    "log2": (np.log2, lambda a, v: 1.0 / (a * _LN2)),
    "sqrt": (np.sqrt, lambda a, v: 0.5 / v),
    "cbrt": (np.cbrt, lambda a, v: 1.0 / (3.0 * v * v)),
    "tanh": (np.tanh, lambda a, v: 1.0 - v * v),
    "sinh": (np.sinh, lambda a, v: np.cosh(a)),
    "cosh": (np.cosh, lambda a, v: np.sinh(a)),
    "arctan": (np.arctan, lambda a, v: 1.0 / (1.0 + a * a)),
    "sin": (np.sin, lambda a, v: np.cos(a)),
    "cos": (np.cos, lambda a, v: -np.sin(a)),
    "abs": (np.abs, lambda a, v: np.sign(a)),
}
CONSTANTS = {"pi": math.pi}
_OPERATORS: dict[type[ast.operator], str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_GRAMMAR = "numbers, x, parameter names, + - * / **, parentheses and " + ", ".join(FUNCTIONS)

Gradient = dict[str, Value]  # parameter -> derivative; a parameter the node does not depend on is absent


def excerpt(text: str, limit: int = 40) -> str:
    """At most `limit` characters of user text, to quote it in a message without echoing megabytes."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def refuse(message: str, position: int | None = None) -> UnknownLawError:
    where = "" if position is None else f"at position {position}: "
    return UnknownLawError(where + message, field="law")


# -- the tree ----------------------------------------------------------------------------------


class Node:
    """One node of a compiled law; `value` and `dual` take the inputs and parameters by name."""

    def value(self, env: Mapping[str, Value]) -> Value:
        raise NotImplementedError

    def dual(self, env: Mapping[str, Value]) -> tuple[Value, Gradient]:
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(Node):
    number: float

    def value(self, env: Mapping[str, Value]) -> Value:
        return self.number

    def dual(self, env: Mapping[str, Value]) -> tuple[Value, Gradient]:
        return self.number, {}


@dataclass(frozen=True)
class Symbol(Node):
    name: str
    is_param: bool

    def value(self, env: Mapping[str, Value]) -> Value:
        return env[self.name]

    def dual(self, env: Mapping[str, Value]) -> tuple[Value, Gradient]:
        return env[self.name], ({self.name: 1.0} if self.is_param else {})


@dataclass(frozen=True)
class Negate(Node):
    arg: Node

    def value(self, env: Mapping[str, Value]) -> Value:
        return np.negative(self.arg.value(env))

    def dual(self, env: Mapping[str, Value]) -> tuple[Value, Gradient]:
        v, g = self.arg.dual(env)
        return np.negative(v), {k: np.negative(d) for k, d in g.items()}


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node

    def value(self, env: Mapping[str, Value]) -> Value:
        return _apply(self.op, self.left.value(env), self.right.value(env))

    def dual(self, env: Mapping[str, Value]) -> tuple[Value, Gradient]:
        a, ga = self.left.dual(env)
        b, gb = self.right.dual(env)
        v = _apply(self.op, a, b)
        if self.op == "+":
            return v, _combine(ga, gb, lambda da, db: da + db, lambda da: da, lambda db: db)
        if self.op == "-":
            return v, _combine(ga, gb, lambda da, db: da - db, lambda da: da, np.negative)
        if self.op == "*":
            return v, _combine(ga, gb, lambda da, db: da * b + a * db, lambda da: da * b, lambda db: a * db)
        if self.op == "/":
            return v, _combine(ga, gb, lambda da, db: (da - v * db) / b, lambda da: da / b, lambda db: -v * db / b)
        # a**b: d = b a^(b-1) da + a^b log(a) db; log(a) only where b varies (a may be negative)
        if not gb:
            slope = b * np.power(a, b - 1.0)
            return v, {k: slope * d for k, d in ga.items()}
        log_a = np.log(a)
        return v, _combine(
            ga, gb, lambda da, db: v * (b * da / a + log_a * db), lambda da: v * b * da / a, lambda db: v * log_a * db
        )


@dataclass(frozen=True)
class Call(Node):
    function: str
    arg: Node

    def value(self, env: Mapping[str, Value]) -> Value:
        return FUNCTIONS[self.function][0](self.arg.value(env))

    def dual(self, env: Mapping[str, Value]) -> tuple[Value, Gradient]:
        f, df = FUNCTIONS[self.function]
        a, g = self.arg.dual(env)
        v = f(a)
        if not g:
            return v, {}
        slope = df(a, v)
        return v, {k: slope * d for k, d in g.items()}


def _apply(op: str, a: Value, b: Value) -> Value:
    if op == "+":
        return np.add(a, b)
    if op == "-":
        return np.subtract(a, b)
    if op == "*":
        return np.multiply(a, b)
    if op == "/":
        return np.divide(a, b)
    return np.power(a, b)  # numpy's power: a negative base to a fractional power is NaN, never complex


def _combine(
    ga: Gradient,
    gb: Gradient,
    both: Callable[[Value, Value], Value],
    left: Callable[[Value], Value],
    right: Callable[[Value], Value],
) -> Gradient:
    out = {k: both(d, gb[k]) if k in gb else left(d) for k, d in ga.items()}
    out.update({k: right(d) for k, d in gb.items() if k not in ga})
    return out


@dataclass(frozen=True)
class Formula:
    """A checked law text: its inputs, its parameters (in order of first appearance) and its tree."""

    text: str
    inputs: tuple[str, ...]
    params: tuple[str, ...]
    root: Node

    def evaluate(self, env: Mapping[str, Value]) -> np.ndarray:
        """The law's value; env holds every input and parameter, as arrays that broadcast together."""
        with np.errstate(all="ignore"):  # overflow, 0/0, log of a negative: non-finite values, not errors
            return np.asarray(self.root.value(env), dtype=float)

    def evaluate_with_gradient(self, env: Mapping[str, Value]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The value and its derivative with respect to every parameter (zero where it does not enter)."""
        with np.errstate(all="ignore"):
            v, g = self.root.dual(env)
        value = np.asarray(v, dtype=float)
        return value, {name: np.asarray(g.get(name, 0.0), dtype=float) for name in self.params}


# -- from text to tree -------------------------------------------------------------------------


@lru_cache(maxsize=128)
def compile_formula(text: str, inputs: tuple[str, ...] = ("x",)) -> Formula:
    """Check `text` against the law language and compile it; UnknownLawError names what is wrong and where."""
    if len(text) > MAX_CHARS:
        raise refuse(f"too long: {len(text)} characters, at most {MAX_CHARS}")
    body = text.lstrip()  # a leading space is an indentation error to Python's parser
    shift = len(text) - len(body)
    _check_characters(text)
    _check_parentheses(text)
    if not body.strip():
        raise refuse("empty law")
    try:
        tree = ast.parse(body, mode="eval")
    except SyntaxError as exc:  # only its column is used: its text is Python's, not ours
        column = exc.offset if isinstance(exc.offset, int) else 0
        if column < 1:  # the parser ran out of text
            raise refuse(f"not a valid expression: it ends too early ({_GRAMMAR})", len(text)) from None
        position = shift + min(column - 1, len(body) - 1)
        raise refuse(f"not a valid expression ({_GRAMMAR})", position) from None
    except (RecursionError, MemoryError):  # the parser's own guard against deep nesting
        raise refuse(f"nested too deeply (at most {MAX_DEPTH} levels)") from None
    _check_size(tree.body, shift)
    builder = _Builder(text, shift, inputs)
    root = builder.build(tree.body)
    params = tuple(builder.params)
    if not params:
        raise refuse("no parameters to fit: every name is an input or a constant")
    if len(params) > MAX_PARAMS:
        raise refuse(f"too many parameters: {len(params)}, at most {MAX_PARAMS}")
    missing = [name for name in inputs if name not in builder.used_inputs]
    if missing:
        raise refuse(f"the law does not use its input {missing[0]} (parameters: {', '.join(params)})")
    if isinstance(root, Constant):
        raise refuse("the law is a constant")
    return Formula(text=text, inputs=inputs, params=params, root=root)


def _check_characters(text: str) -> None:
    for i, ch in enumerate(text):
        if ch in _ALLOWED:
            continue
        if ch == "^":
            raise refuse("'^' is not a power here; write x**alpha", i)
        shown = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
        raise refuse(f"character {shown} is not allowed ({_GRAMMAR})", i)


def _check_parentheses(text: str) -> None:
    opened: list[int] = []
    for i, ch in enumerate(text):
        if ch == "(":
            opened.append(i)
        elif ch == ")":
            if not opened:
                raise refuse("')' closes nothing", i)
            opened.pop()
        if len(opened) > MAX_DEPTH:
            raise refuse(f"nested too deeply (at most {MAX_DEPTH} levels)", i)
    if opened:
        raise refuse("'(' is never closed", opened[-1])


def _check_size(root: ast.expr, shift: int) -> None:
    """Node count and depth, without recursion: the tree is walked recursively only once this holds."""
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise refuse(f"too many terms: more than {MAX_NODES} numbers, names and operations")
        if depth > MAX_DEPTH:
            raise refuse(f"nested too deeply (at most {MAX_DEPTH} levels)", shift + getattr(node, "col_offset", 0))
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))


class _Builder:
    """ast -> our nodes, refusing whatever is outside the language and folding constants."""

    def __init__(self, text: str, shift: int, inputs: tuple[str, ...]):
        self.text, self.shift, self.inputs = text, shift, inputs
        self.params: list[str] = []
        self.used_inputs: set[str] = set()

    def build(self, node: ast.expr) -> Node:
        at = self.shift + node.col_offset  # the text is ASCII: byte offsets are character offsets
        if isinstance(node, ast.Constant):
            return self.number(node.value, at)
        if isinstance(node, ast.Name):
            return self.name(node.id, at)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            arg = self.build(node.operand)
            if isinstance(node.op, ast.UAdd):
                return arg
            return Constant(-arg.number) if isinstance(arg, Constant) else Negate(arg)
        if isinstance(node, ast.BinOp):
            op_at = self.operator_position(node)
            op = _OPERATORS.get(type(node.op))
            if op is None:  # of the operators the characters allow, only // gets here
                raise refuse(f"operator '//' is not allowed ({_GRAMMAR})", op_at)
            left, right = self.build(node.left), self.build(node.right)
            if op == "/" and isinstance(right, Constant) and right.number == 0.0:
                raise refuse("division by zero", op_at)
            if isinstance(left, Constant) and isinstance(right, Constant):
                return Constant(self.fold(op, left.number, right.number, at, node))
            return Binary(op, left, right)
        if isinstance(node, ast.Call):
            return self.call(node, at)
        raise refuse(f"{self.describe(node)} is not allowed ({_GRAMMAR})", at)

    def number(self, value: object, at: int) -> Node:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise refuse(f"only real numbers are allowed ({_GRAMMAR})", at)
        if isinstance(value, int) and value.bit_length() > 1000:  # float() of it would overflow
            raise refuse("number too large", at)
        number = float(value)
        if not math.isfinite(number) or abs(number) > 10**MAX_LOG10:
            raise refuse("number too large", at)
        return Constant(number)

    def name(self, name: str, at: int) -> Node:
        if name.startswith("_"):
            raise refuse(f"names may not start with '_': {name!r}", at)
        if name in FUNCTIONS:
            raise refuse(f"{name!r} is a function: call it as {name}(...)", at)
        if name in CONSTANTS:
            return Constant(CONSTANTS[name])
        if name in self.inputs:
            self.used_inputs.add(name)
            return Symbol(name, is_param=False)
        if name not in self.params:
            self.params.append(name)
        return Symbol(name, is_param=True)

    def call(self, node: ast.Call, at: int) -> Node:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            what = f"function {node.func.id!r}" if isinstance(node.func, ast.Name) else "this call"
            raise refuse(f"{what} is not allowed; functions: {', '.join(FUNCTIONS)}", at)
        name = node.func.id
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise refuse(f"{name} takes exactly one argument", at)
        arg = self.build(node.args[0])
        if isinstance(arg, Constant):
            with np.errstate(all="ignore"):
                value = float(FUNCTIONS[name][0](np.float64(arg.number)))
            return Constant(self.checked(value, at, node))
        return Call(name, arg)

    def fold(self, op: str, a: float, b: float, at: int, node: ast.expr) -> float:
        """a op b for two constants, refused before computing it when its size would explode."""
        if op == "**":
            if a == 0.0 and b < 0.0:
                raise refuse(f"the constant {self.segment(node)} is a division by zero", at)
            if a != 0.0 and b * math.log10(abs(a)) > MAX_LOG10:
                size = b * math.log10(abs(a))
                raise refuse(f"the constant {self.segment(node)} is too large (about 10**{size:.0f})", at)
        with np.errstate(all="ignore"):
            value = float(_apply(op, np.float64(a), np.float64(b)))
        return self.checked(value, at, node)

    def checked(self, value: float, at: int, node: ast.expr) -> float:
        if math.isnan(value):
            raise refuse(f"the constant {self.segment(node)} is not a real number", at)
        if not abs(value) <= 10**MAX_LOG10:
            raise refuse(f"the constant {self.segment(node)} is too large", at)
        return value

    def operator_position(self, node: ast.BinOp) -> int:
        """Where the operator of a BinOp stands: the first non-space after its left operand, within the line."""
        i = self.shift + (node.left.end_col_offset or node.left.col_offset)
        while i < len(self.text) and self.text[i] in " \t)":
            i += 1
        return min(i, len(self.text) - 1)

    def segment(self, node: ast.expr) -> str:
        start = self.shift + node.col_offset
        return excerpt(self.text[start : self.shift + (node.end_col_offset or node.col_offset)])

    @staticmethod
    def describe(node: ast.expr) -> str:
        names = {
            ast.Attribute: "attribute access",
            ast.Compare: "a comparison",
            ast.BoolOp: "'and'/'or'",
            ast.IfExp: "'if'",
            ast.Lambda: "'lambda'",
            ast.Tuple: "a tuple",
            ast.UnaryOp: "this unary operator",
        }
        return names.get(type(node), "this construct")
