"""Salary component formulas: a small, safe arithmetic language (never ``eval``).

A formula is parsed with :mod:`ast` and only these nodes are accepted: numbers,
names (component codes and ``GROSS``, the assignment's monthly gross), ``+ - * /``,
unary ``-`` and ``+``, parentheses and the calls ``min(a, b, ...)``, ``max(a, b, ...)``
and ``round(x)`` (half up to the rupee). Everything else (attributes, subscripts,
comparisons, other calls, strings, ``**``) is refused with a message. A parsed
formula is compiled once into nested closures over :class:`~decimal.Decimal` and
then evaluated for every employee without parsing again.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, DivisionByZero, InvalidOperation

__all__ = ["GROSS", "MAX_LENGTH", "Formula", "FormulaError", "compile_formula", "evaluation_order"]

#: The name of the assignment's monthly gross inside formulas.
GROSS = "GROSS"
#: The longest formula accepted.
MAX_LENGTH = 500

Evaluator = Callable[[Mapping[str, Decimal]], Decimal]


class FormulaError(ValueError):
    """A formula that cannot be parsed or evaluated; the message says why."""


@dataclass(frozen=True)
class Formula:
    """A compiled formula: its source, the names it reads, and the evaluator."""

    source: str
    names: frozenset[str]
    evaluate: Evaluator


def _number(node: ast.Constant) -> Evaluator:
    if isinstance(node.value, bool) or not isinstance(node.value, int | float):
        raise FormulaError("only numbers, component codes and + - * / ( ) min max round are allowed")
    value = Decimal(str(node.value))
    return lambda env: value


def _name(name: str) -> Evaluator:
    def read(env: Mapping[str, Decimal]) -> Decimal:
        try:
            return env[name]
        except KeyError:
            raise FormulaError(f"unknown component {name}") from None

    return read


def _binary(op: ast.operator, left: Evaluator, right: Evaluator) -> Evaluator:
    if isinstance(op, ast.Add):
        return lambda env: left(env) + right(env)
    if isinstance(op, ast.Sub):
        return lambda env: left(env) - right(env)
    if isinstance(op, ast.Mult):
        return lambda env: left(env) * right(env)
    if isinstance(op, ast.Div):

        def divide(env: Mapping[str, Decimal]) -> Decimal:
            divisor = right(env)
            if divisor == 0:
                raise FormulaError("division by zero")
            return left(env) / divisor

        return divide
    raise FormulaError(f"operator {type(op).__name__} is not allowed; use + - * /")


def _call(node: ast.Call, build: Callable[[ast.AST], Evaluator]) -> Evaluator:
    if not isinstance(node.func, ast.Name) or node.keywords:
        raise FormulaError("only min(...), max(...) and round(...) may be called")
    args = [build(arg) for arg in node.args]
    name = node.func.id
    if name in ("min", "max"):
        if len(args) < 2:
            raise FormulaError(f"{name}() needs at least two values")
        pick = min if name == "min" else max
        return lambda env: pick(arg(env) for arg in args)
    if name == "round":
        if len(args) != 1:
            raise FormulaError("round() takes one value (rounded half up to the rupee)")
        inner = args[0]
        return lambda env: inner(env).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    raise FormulaError(f"function {name}() is not allowed; only min, max and round")


def compile_formula(source: str) -> Formula:
    """Parse and compile ``source``; ``FormulaError`` says what is wrong."""
    text = (source or "").strip()
    if not text:
        raise FormulaError("a formula is required")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"at most {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"not a formula: {exc.msg}") from None
    names: set[str] = set()

    def build(node: ast.AST) -> Evaluator:
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Constant):
            return _number(node)
        if isinstance(node, ast.Name):
            if node.id in ("min", "max", "round"):
                raise FormulaError(f"{node.id} must be called")
            names.add(node.id)
            return _name(node.id)
        if isinstance(node, ast.BinOp):
            return _binary(node.op, build(node.left), build(node.right))
        if isinstance(node, ast.UnaryOp):
            operand = build(node.operand)
            if isinstance(node.op, ast.USub):
                return lambda env: -operand(env)
            if isinstance(node.op, ast.UAdd):
                return operand
            raise FormulaError("only - and + may stand before a value")
        if isinstance(node, ast.Call):
            return _call(node, build)
        raise FormulaError("only numbers, component codes and + - * / ( ) min max round are allowed")

    evaluator = build(tree)

    def evaluate(env: Mapping[str, Decimal]) -> Decimal:
        try:
            return evaluator(env)
        except (InvalidOperation, DivisionByZero) as exc:
            raise FormulaError(f"cannot evaluate: {exc}") from None

    return Formula(text, frozenset(names), evaluate)


def evaluation_order(depends: Mapping[str, frozenset[str]]) -> list[str]:
    """The codes in an order where each comes after the codes it reads; ``FormulaError`` names a cycle.

    ``depends`` maps each component code to the names its formula reads (empty for fixed
    amounts). Names that are not keys (``GROSS``) are inputs, not dependencies.
    """
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(code: str, path: list[str]) -> None:
        if state.get(code) == 2:
            return
        if state.get(code) == 1:
            cycle = [*path[path.index(code) :], code]
            raise FormulaError(f"circular formulas: {' -> '.join(cycle)}")
        state[code] = 1
        for name in sorted(depends[code]):
            if name in depends:
                visit(name, [*path, code])
        state[code] = 2
        order.append(code)

    for code in depends:
        visit(code, [])
    return order
