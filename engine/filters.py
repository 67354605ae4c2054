"""A job's filter and sort conditions over its contact list.

Filters are a small, safe expression language (a whitelisted subset of the polars expression
syntax, parsed, never evaluated) or a list of ``{column, op, value}`` conditions; both are
checked against the list's schema before a job starts, every problem collected.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl

# Implementing Avaya Proactive Outreach Manager documents 10 sort conditions per list.
MAX_SORT_KEYS = 10
MAX_FILTER_CHARS = 10_000


class FilterError(ValueError):
    """A filter or sort condition is malformed or does not fit the list's schema.

    ``errors`` holds one message per problem found (all are collected before raising).
    """

    def __init__(self, errors: Sequence[str]):
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


_CMP_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">",
            ast.GtE: ">="}
_ARITH_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}
_STR_TESTS = ("starts_with", "ends_with", "contains")
_STR_MAPS = ("to_lowercase", "to_uppercase", "len_chars")
CONDITION_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_null", "is_not_null",
                 "between", *_STR_TESTS)
_ALLOWED = ("columns as pl.col(\"name\"), col(\"name\") or bare names; text, number, "
            "true/false and None literals; == != < <= > >=; in / not in [..]; & | ~ and or "
            "not; + - * / %; .is_in([..]) .is_null() .is_not_null() .is_between(a, b); "
            ".str.starts_with/.ends_with/.contains/.to_lowercase/.to_uppercase/.len_chars")


@dataclass(frozen=True)
class _Col:
    name: str


@dataclass(frozen=True)
class _Lit:
    value: Any


@dataclass(frozen=True)
class _Cmp:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class _In:
    expr: Any
    values: tuple
    negate: bool = False


@dataclass(frozen=True)
class _Between:
    expr: Any
    lo: Any
    hi: Any


@dataclass(frozen=True)
class _Null:
    expr: Any
    negate: bool = False


@dataclass(frozen=True)
class _StrTest:
    method: str
    expr: Any
    arg: str
    literal: bool = False


@dataclass(frozen=True)
class _StrMap:
    method: str
    expr: Any


@dataclass(frozen=True)
class _Arith:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class _Bool:
    op: str  # "and" | "or"
    items: tuple


@dataclass(frozen=True)
class _Not:
    expr: Any


class _Parser:
    """Turns filter text into the node tree above; anything outside the grammar is an error.

    Python's ``ast`` module only parses (it runs nothing); each node type is whitelisted.
    """

    def __init__(self, text: str, name: str):
        self.text = text
        self.name = name

    def fail(self, node: ast.AST | None, message: str) -> FilterError:
        where = f" at column {node.col_offset + 1}" if node is not None and hasattr(
            node, "col_offset") else ""
        return FilterError([f"filter {self.name!r}{where}: {message}"])

    def parse(self) -> Any:
        if len(self.text) > MAX_FILTER_CHARS:
            raise FilterError([f"filter {self.name!r}: longer than {MAX_FILTER_CHARS} chars"])
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as e:
            raise FilterError([f"filter {self.name!r}: syntax error at column {e.offset}: "
                               f"{e.msg}"]) from None
        except (RecursionError, MemoryError, ValueError):
            raise FilterError([f"filter {self.name!r}: too deeply nested"]) from None
        try:
            return self.node(tree.body)
        except RecursionError:
            raise FilterError([f"filter {self.name!r}: too deeply nested"]) from None

    def const(self, n: ast.AST) -> Any:
        if isinstance(n, ast.Constant) and isinstance(n.value, (str, int, float, bool,
                                                                 type(None))):
            if (isinstance(n.value, int) and not isinstance(n.value, bool)
                    and not -(2**63) <= n.value < 2**63):
                raise self.fail(n, f"number {n.value} does not fit in 64 bits")
            return n.value
        if isinstance(n, ast.Name) and n.id in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[n.id]
        if (isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub)
                and isinstance(n.operand, ast.Constant)
                and isinstance(n.operand.value, (int, float))
                and not isinstance(n.operand.value, bool)):
            return -n.operand.value
        raise self.fail(n, f"expected a literal value, got {ast.unparse(n)!r}")

    def values(self, n: ast.AST) -> tuple:
        if not isinstance(n, (ast.List, ast.Tuple, ast.Set)):
            raise self.fail(n, f"expected a list of values, got {ast.unparse(n)!r}")
        return tuple(self.const(e) for e in n.elts)

    def node(self, n: ast.AST) -> Any:
        if isinstance(n, ast.BoolOp):
            op = "and" if isinstance(n.op, ast.And) else "or"
            return _Bool(op, tuple(self.node(v) for v in n.values))
        if isinstance(n, ast.UnaryOp):
            if isinstance(n.op, (ast.Not, ast.Invert)):
                return _Not(self.node(n.operand))
            if isinstance(n.op, ast.USub):
                if isinstance(n.operand, ast.Constant):
                    return _Lit(self.const(n))
                return _Arith("-", _Lit(0), self.node(n.operand))
            raise self.fail(n, f"operator {type(n.op).__name__} is not allowed")
        if isinstance(n, ast.BinOp):
            if isinstance(n.op, ast.BitAnd):
                return _Bool("and", (self.node(n.left), self.node(n.right)))
            if isinstance(n.op, ast.BitOr):
                return _Bool("or", (self.node(n.left), self.node(n.right)))
            op = _ARITH_OPS.get(type(n.op))
            if op is None:
                raise self.fail(n, f"operator {type(n.op).__name__} is not allowed")
            return _Arith(op, self.node(n.left), self.node(n.right))
        if isinstance(n, ast.Compare):
            parts = []
            left = n.left
            for op, right in zip(n.ops, n.comparators, strict=True):
                if isinstance(op, (ast.In, ast.NotIn)):
                    parts.append(_In(self.node(left), self.values(right),
                                     isinstance(op, ast.NotIn)))
                elif type(op) in _CMP_OPS:
                    parts.append(_Cmp(_CMP_OPS[type(op)], self.node(left), self.node(right)))
                else:
                    raise self.fail(n, f"comparison {type(op).__name__} is not allowed "
                                       "(use == / !=, or .is_null())")
                left = right
            return parts[0] if len(parts) == 1 else _Bool("and", tuple(parts))
        if isinstance(n, ast.Constant):
            return _Lit(self.const(n))
        if isinstance(n, ast.Name):
            if n.id in ("true", "false", "null"):
                return _Lit(self.const(n))
            return _Col(n.id)
        if isinstance(n, ast.Call):
            return self.call(n)
        raise self.fail(n, f"{ast.unparse(n)!r} is not allowed; allowed: {_ALLOWED}")

    def call(self, n: ast.Call) -> Any:
        f = n.func
        kw = {k.arg: k.value for k in n.keywords}
        if None in kw:
            raise self.fail(n, "** arguments are not allowed")
        fname = None
        if isinstance(f, ast.Name):
            fname = f.id
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and (
                f.value.id == "pl"):
            fname = f.attr
        if fname in ("col", "lit"):
            if len(n.args) != 1 or kw:
                raise self.fail(n, f"{fname}() takes exactly one argument")
            v = self.const(n.args[0])
            if fname == "col":
                if not isinstance(v, str):
                    raise self.fail(n, "col() takes a column name as text")
                return _Col(v)
            return _Lit(v)
        if not isinstance(f, ast.Attribute) or fname is not None:
            raise self.fail(n, f"call {ast.unparse(f)!r} is not allowed; allowed: {_ALLOWED}")
        method = f.attr
        target = f.value
        if isinstance(target, ast.Attribute) and target.attr == "str":
            inner = self.node(target.value)
            if method in _STR_TESTS:
                literal = kw.pop("literal", None)
                if len(n.args) != 1 or kw:
                    raise self.fail(n, f".str.{method}() takes one text argument"
                                       + (" and literal=" if method == "contains" else ""))
                arg = self.const(n.args[0])
                if not isinstance(arg, str):
                    raise self.fail(n, f".str.{method}() takes a text argument")
                lit = False
                if literal is not None:
                    if method != "contains":
                        raise self.fail(n, f".str.{method}() takes no literal=")
                    lit = self.const(literal)
                    if not isinstance(lit, bool):
                        raise self.fail(n, "literal= must be True or False")
                return _StrTest(method, inner, arg, lit)
            if method in _STR_MAPS:
                if n.args or kw:
                    raise self.fail(n, f".str.{method}() takes no arguments")
                return _StrMap(method, inner)
            raise self.fail(n, f".str.{method}() is not allowed; allowed: {_ALLOWED}")
        inner = self.node(target)
        if method in ("is_null", "is_not_null"):
            if n.args or kw:
                raise self.fail(n, f".{method}() takes no arguments")
            return _Null(inner, method == "is_not_null")
        if method == "is_in":
            if len(n.args) != 1 or kw:
                raise self.fail(n, ".is_in() takes one list of values")
            return _In(inner, self.values(n.args[0]))
        if method == "is_between":
            if len(n.args) != 2 or kw:
                raise self.fail(n, ".is_between() takes two values")
            return _Between(inner, _Lit(self.const(n.args[0])), _Lit(self.const(n.args[1])))
        raise self.fail(n, f".{method}() is not allowed; allowed: {_ALLOWED}")


def _kind_of(dtype: pl.DataType) -> str:
    if dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum)):
        return "text"
    if dtype.is_numeric():
        return "number"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype == pl.Null:
        return "null"
    return str(dtype)


def _lit_kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    return "text"


def _describe(node: Any) -> str:
    if isinstance(node, _Col):
        return f"column {node.name!r}"
    if isinstance(node, _Lit):
        return repr(node.value)
    return "an expression"


class _Checker:
    """Type-checks a node tree against a schema, collecting every error."""

    def __init__(self, schema: Mapping[str, pl.DataType], name: str):
        self.schema = schema
        self.name = name
        self.errors: list[str] = []

    def err(self, msg: str) -> str:
        self.errors.append(f"filter {self.name!r}: {msg}")
        return "error"

    def comparable(self, a: str, b: str, lit: Any) -> bool:
        if a == b or "error" in (a, b):
            return True
        if a in ("date", "datetime") and b == "text" and isinstance(lit, _Lit):
            try:
                (date if a == "date" else datetime).fromisoformat(lit.value)
                return True
            except ValueError:
                return False
        return False

    def kind(self, n: Any) -> str:
        if isinstance(n, _Col):
            if n.name not in self.schema:
                cols = ", ".join(self.schema)
                return self.err(f"unknown column {n.name!r}; the list has columns: {cols}")
            return _kind_of(self.schema[n.name])
        if isinstance(n, _Lit):
            return _lit_kind(n.value)
        if isinstance(n, _Cmp):
            a, b = self.kind(n.left), self.kind(n.right)
            if "null" in (a, b):
                if n.op not in ("==", "!="):
                    return self.err(f"operator {n.op!r} cannot compare with None; use "
                                    ".is_null() / .is_not_null()")
                return "boolean"
            if not (self.comparable(a, b, n.right) or self.comparable(b, a, n.left)):
                return self.err(f"operator {n.op!r} cannot compare {_describe(n.left)} ({a}) "
                                f"with {_describe(n.right)} ({b})")
            if n.op not in ("==", "!=") and a == "boolean":
                return self.err(f"operator {n.op!r} does not order {_describe(n.left)} "
                                "(boolean)")
            return "boolean"
        if isinstance(n, (_In, _Between)):
            a = self.kind(n.expr)
            vals = n.values if isinstance(n, _In) else (n.lo.value, n.hi.value)
            op = ("not in" if n.negate else "in") if isinstance(n, _In) else "is_between"
            for v in vals:
                if v is None and isinstance(n, _In):
                    continue
                if not self.comparable(a, _lit_kind(v), _Lit(v)):
                    return self.err(f"operator {op!r} cannot compare {_describe(n.expr)} ({a}) "
                                    f"with {v!r} ({_lit_kind(v)})")
            return "boolean"
        if isinstance(n, _Null):
            self.kind(n.expr)
            return "boolean"
        if isinstance(n, (_StrTest, _StrMap)):
            a = self.kind(n.expr)
            if a not in ("text", "error"):
                return self.err(f".str.{n.method}() needs text, but {_describe(n.expr)} is {a}")
            if isinstance(n, _StrTest) and n.method == "contains" and not n.literal:
                try:
                    re.compile(n.arg)
                except re.error as e:
                    return self.err(f".str.contains(): bad pattern {n.arg!r} ({e}); "
                                    "pass literal=True to match text as is")
            return "number" if n.method == "len_chars" else ("boolean" if isinstance(
                n, _StrTest) else "text")
        if isinstance(n, _Arith):
            a, b = self.kind(n.left), self.kind(n.right)
            for side, k in ((n.left, a), (n.right, b)):
                if k not in ("number", "error"):
                    return self.err(f"operator {n.op!r} needs numbers, but {_describe(side)} "
                                    f"is {k}")
            return "number"
        if isinstance(n, _Bool):
            op = "&" if n.op == "and" else "|"
            for it in n.items:
                k = self.kind(it)
                if k not in ("boolean", "error"):
                    self.err(f"operator {op!r} combines conditions, but {_describe(it)} is {k}"
                             " (as in polars, & and | bind tighter than comparisons: put "
                             "each comparison in parentheses)")
            return "boolean"
        if isinstance(n, _Not):
            k = self.kind(n.expr)
            if k not in ("boolean", "error"):
                return self.err(f"operator '~' negates a condition, but {_describe(n.expr)} "
                                f"is {k}")
            return "boolean"
        raise TypeError(f"unknown filter node {n!r}")


def _lit_for(kind: str, v: Any) -> Any:
    """A literal converted for a date / datetime column (ISO text accepted)."""
    if isinstance(v, str) and kind == "date":
        return date.fromisoformat(v)
    if isinstance(v, str) and kind == "datetime":
        return datetime.fromisoformat(v)
    return v


def _compile(n: Any, schema: Mapping[str, pl.DataType]) -> pl.Expr:
    def colkind(x: Any) -> str:
        return _kind_of(schema[x.name]) if isinstance(x, _Col) else ""

    if isinstance(n, _Col):
        return pl.col(n.name)
    if isinstance(n, _Lit):
        return pl.lit(n.value)
    if isinstance(n, _Cmp):
        left, right = n.left, n.right
        if isinstance(right, _Lit) and right.value is None:
            e = _compile(left, schema)
            return e.is_not_null() if n.op == "!=" else e.is_null()
        if isinstance(left, _Lit) and left.value is None:
            e = _compile(right, schema)
            return e.is_not_null() if n.op == "!=" else e.is_null()
        a = (pl.lit(_lit_for(colkind(right), left.value)) if isinstance(left, _Lit)
             else _compile(left, schema))
        b = (pl.lit(_lit_for(colkind(left), right.value)) if isinstance(right, _Lit)
             else _compile(right, schema))
        return {"==": a.__eq__, "!=": a.__ne__, "<": a.__lt__, "<=": a.__le__,
                ">": a.__gt__, ">=": a.__ge__}[n.op](b)
    if isinstance(n, _In):
        k = colkind(n.expr)
        vals = [_lit_for(k, v) for v in n.values if v is not None]
        e = _compile(n.expr, schema)
        out = e.is_in(vals)
        if None in n.values:
            out = out | e.is_null()
        # "not in" keeps rows whose value is null (they are in no list), unlike SQL's NOT IN
        return (~out).fill_null(True) if n.negate else out.fill_null(False)
    if isinstance(n, _Between):
        k = colkind(n.expr)
        return _compile(n.expr, schema).is_between(_lit_for(k, n.lo.value),
                                                   _lit_for(k, n.hi.value))
    if isinstance(n, _Null):
        e = _compile(n.expr, schema)
        return e.is_not_null() if n.negate else e.is_null()
    if isinstance(n, _StrTest):
        e = _compile(n.expr, schema).str
        if n.method == "contains":
            return e.contains(n.arg, literal=n.literal)
        return getattr(e, n.method)(n.arg)
    if isinstance(n, _StrMap):
        return getattr(_compile(n.expr, schema).str, n.method)()
    if isinstance(n, _Arith):
        a, b = _compile(n.left, schema), _compile(n.right, schema)
        return {"+": a.__add__, "-": a.__sub__, "*": a.__mul__, "/": a.__truediv__,
                "%": a.__mod__}[n.op](b)
    if isinstance(n, _Bool):
        exprs = [_compile(i, schema) for i in n.items]
        return pl.all_horizontal(exprs) if n.op == "and" else pl.any_horizontal(exprs)
    if isinstance(n, _Not):
        return ~_compile(n.expr, schema)
    raise TypeError(f"unknown filter node {n!r}")


class Filter:
    """A filter template: a named condition on a contact list, safe by construction.

    Build it from text in the polars expression style (``Filter.parse``), e.g.
    ``pl.col("region") == "north" & (pl.col("age") >= 18)`` or ``region in ["north",
    "east"] and not opted_out``; or from ``{column, op, value}`` conditions, all of
    which must hold (``Filter.from_conditions``). Text is parsed into a small tree of
    whitelisted operations and compiled to a polars expression; nothing is evaluated.
    Rows where the condition is null (a missing value) are filtered out.
    """

    def __init__(self, node: Any, name: str = "filter", text: str = ""):
        self.node = node
        self.name = name
        self.text = text

    def __repr__(self) -> str:
        return f"Filter({self.name!r}, {self.text!r})"

    @classmethod
    def parse(cls, text: str, name: str = "filter") -> Filter:
        """Parse filter text; ``FilterError`` naming the position and what is not allowed."""
        if not isinstance(text, str) or not text.strip():
            raise FilterError([f"filter {name!r}: empty filter text"])
        return cls(_Parser(text, name).parse(), name, text)

    @classmethod
    def from_conditions(cls, conditions: Sequence[Mapping[str, Any]],
                        name: str = "filter") -> Filter:
        """All of ``[{"column": c, "op": op, "value": v}, ...]``; ops: ``CONDITION_OPS``
        (``between`` takes ``[lo, hi]``, ``in`` / ``not_in`` a list, ``is_null`` none)."""
        errors: list[str] = []
        nodes = []
        for i, c in enumerate(conditions):
            where = f"filter {name!r} condition {i + 1}"
            if not isinstance(c, Mapping):
                errors.append(f"{where}: expected a mapping with column, op, value")
                continue
            unknown = set(c) - {"column", "op", "value"}
            if unknown:
                errors.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
            col, op, val = c.get("column"), c.get("op"), c.get("value")
            if not isinstance(col, str) or not col:
                errors.append(f"{where}: 'column' must be a column name")
                continue
            if op not in CONDITION_OPS:
                errors.append(f"{where}: unknown operator {op!r}; expected one of "
                              f"{', '.join(CONDITION_OPS)}")
                continue
            node = _condition(_Col(col), op, val)
            if isinstance(node, str):
                errors.append(f"{where} (operator {op!r}): {node}")
            else:
                nodes.append(node)
        if errors:
            raise FilterError(errors)
        if not nodes:
            raise FilterError([f"filter {name!r}: no conditions"])
        text = " & ".join(f"({c['column']} {c['op']} {c.get('value')!r})" for c in conditions)
        return cls(nodes[0] if len(nodes) == 1 else _Bool("and", tuple(nodes)), name, text)

    def validate(self, schema: Mapping[str, pl.DataType]) -> None:
        """Raise ``FilterError`` listing every unknown column and ill-typed operator."""
        chk = _Checker(schema, self.name)
        k = chk.kind(self.node)
        if k not in ("boolean", "error"):
            chk.err(f"must be a condition (true/false), but it gives {k}")
        if chk.errors:
            raise FilterError(chk.errors)

    def expr(self, schema: Mapping[str, pl.DataType]) -> pl.Expr:
        """The polars expression, validated against ``schema`` first."""
        self.validate(schema)
        return _compile(self.node, schema)


def _condition(col: _Col, op: str, val: Any) -> Any:
    """One ``{column, op, value}`` condition as a node, or an error message."""
    def scalar(v: Any) -> bool:
        return v is None or isinstance(v, (str, int, float, bool))

    if op in ("is_null", "is_not_null"):
        if val is not None:
            return "takes no value"
        return _Null(col, op == "is_not_null")
    if op in ("in", "not_in"):
        if not isinstance(val, (list, tuple, set, frozenset)) or not all(map(scalar, val)):
            return "value must be a list of literals"
        return _In(col, tuple(val), op == "not_in")
    if op == "between":
        if (not isinstance(val, (list, tuple)) or len(val) != 2 or not all(map(scalar, val))
                or None in val):
            return "value must be [low, high]"
        return _Between(col, _Lit(val[0]), _Lit(val[1]))
    if op in _STR_TESTS:
        if not isinstance(val, str):
            return "value must be text"
        return _StrTest(op, col, val, literal=True)
    if not scalar(val):
        return "value must be a text, number, boolean or null literal"
    return _Cmp(op, col, _Lit(val))


@dataclass(frozen=True)
class SortKey:
    """One sort condition: a column, ascending unless ``descending``; nulls sort last."""

    column: str
    descending: bool = False

    @classmethod
    def of(cls, spec: SortKey | str | tuple[str, bool] | Mapping[str, Any]) -> SortKey:
        """From a SortKey, ``"col"`` / ``"col desc"`` / ``"-col"``, ``(col, descending)``
        or ``{"column": c, "descending": bool}``."""
        if isinstance(spec, SortKey):
            return spec
        if isinstance(spec, tuple) and len(spec) == 2:
            return cls(str(spec[0]), bool(spec[1]))
        if isinstance(spec, Mapping):
            order = spec.get("order")
            desc = spec.get("descending", order in ("desc", "descending"))
            return cls(str(spec.get("column", "")), bool(desc))
        if isinstance(spec, str):
            s = spec.strip()
            if s.startswith("-"):
                return cls(s[1:].strip(), True)
            parts = s.rsplit(None, 1)
            if len(parts) == 2 and parts[1].lower() in ("asc", "desc", "ascending",
                                                        "descending"):
                return cls(parts[0], parts[1].lower().startswith("desc"))
            return cls(s)
        raise FilterError([f"sort condition {spec!r}: expected a column name"])


def validate_selection(schema: Mapping[str, pl.DataType], filter: Filter | str | None,
                       sort: Sequence[SortKey | str | tuple[str, bool]] = ()
                       ) -> tuple[pl.Expr | None, list[SortKey]]:
    """Check a job's filter and sort conditions against a list's schema before it starts.

    Returns the compiled expression and sort keys; raises ``FilterError`` with every
    problem (unknown column, operator that does not fit the column's type, too many or
    unsortable sort keys).
    """
    errors: list[str] = []
    expr = None
    if isinstance(filter, str):
        try:
            filter = Filter.parse(filter)
        except FilterError as e:
            errors.extend(e.errors)
            filter = None
    if filter is not None:
        try:
            expr = filter.expr(schema)
        except FilterError as e:
            errors.extend(e.errors)
    keys: list[SortKey] = []
    for s in sort:
        try:
            keys.append(SortKey.of(s))
        except FilterError as e:
            errors.extend(e.errors)
    if len(keys) > MAX_SORT_KEYS:
        errors.append(f"sort: {len(keys)} sort conditions, at most {MAX_SORT_KEYS}")
    for k in keys:
        if k.column not in schema:
            errors.append(f"sort: unknown column {k.column!r}; the list has columns: "
                          f"{', '.join(schema)}")
        elif isinstance(schema[k.column], (pl.List, pl.Struct, pl.Object, pl.Array)):
            errors.append(f"sort: column {k.column!r} ({schema[k.column]}) cannot be sorted")
    if errors:
        raise FilterError(errors)
    return expr, keys
