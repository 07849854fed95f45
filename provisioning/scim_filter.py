"""SCIM filters (RFC 7644 §3.4.2.2), parsed by scim2-filter-parser and answered two ways from one tree: as a
Django `Q` where every comparison has a column (exact, indexed: `userName eq` is the `lower(login)` index),
and by evaluating the tree against a resource's JSON where it has not (value paths such as
`emails[type eq "work"].value`, sub-attributes kept as JSON). A filter answered in the database is exact;
one that is not is narrowed there by its exact parts and decided in memory (see `Filter.exact`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from scim2_filter_parser import ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser

OPERATORS = ("eq", "ne", "co", "sw", "ew", "pr", "gt", "ge", "lt", "le")
CASE_EXACT = {"id", "externalid"}  # RFC 7643: every other string here compares case-blind


class InvalidFilter(ValueError):
    """SCIM's `invalidFilter` (400): the text names what is wrong."""


# A column comparison: (attribute, sub-attribute) → a function of (operator, value) giving a Q, or None.
Columns = Mapping[tuple[str, str], Callable[[str, Any], Q | None]]


@dataclass(frozen=True)
class Filter:
    tree: ast.AST
    text: str

    def q(self, columns: Columns) -> tuple[Q, bool]:
        """The `Q` of the comparisons `columns` answers, and whether it is the whole filter (exact)."""
        return _q(self.tree, columns, namespace=None)

    def matches(self, resource: Mapping[str, Any]) -> bool:
        return _matches(self.tree, resource)


def parse(text: str) -> Filter:
    if not text or not text.strip():
        raise InvalidFilter("the filter is empty")
    try:
        tree = SCIMParser().parse(SCIMLexer().tokenize(text))
    except Exception as exc:  # SCIMParserError, and plain errors of the lexer on stray characters
        raise InvalidFilter(f"{text!r} is not a SCIM filter: {exc}") from None
    if tree is None:
        raise InvalidFilter(f"{text!r} is not a SCIM filter")
    _check(tree)
    return Filter(tree, text)


def _check(node: Any) -> None:
    if isinstance(node, ast.AttrExpr) and node.value.lower() not in OPERATORS:
        raise InvalidFilter(f"{node.value!r} is not a SCIM operator")
    for name in getattr(node, "_fields", ()):
        child = getattr(node, name)
        if isinstance(child, ast.AST):
            _check(child)


# ------------------------------------------------------------------------------------------ database
def _q(node: Any, columns: Columns, namespace: str | None) -> tuple[Q, bool]:
    if isinstance(node, ast.Filter):
        if node.namespace is not None:  # emails[type eq "work"]: decided in memory
            return Q(), False
        q, exact = _q(node.expr, columns, namespace)
        if node.negated:
            return (~q, True) if exact else (Q(), False)
        return q, exact
    if isinstance(node, ast.LogExpr):
        (q1, e1), (q2, e2) = _q(node.expr1, columns, namespace), _q(node.expr2, columns, namespace)
        if node.op.lower() == "and":
            return q1 & q2, e1 and e2
        return (q1 | q2, True) if e1 and e2 else (Q(), False)
    if isinstance(node, ast.AttrExpr):
        path = node.attr_path
        if isinstance(path.attr_name, ast.Filter):  # emails[type eq "work"].value eq …
            return Q(), False
        key = (path.attr_name.lower(), path.sub_attr.value.lower() if path.sub_attr else "")
        column = columns.get(key)
        if column is None:
            return Q(), False
        value = comparison_value(node.comp_value)
        q = column(node.value.lower(), value)
        return (q, True) if q is not None else (Q(), False)
    return Q(), False


def comparison_value(comp: Any) -> Any:
    """A comparison's value as JSON has it: true, false and null as such, anything else as written."""
    if comp is None:
        return None
    text = comp.value
    return {"true": True, "false": False, "null": None}.get(text, text) if isinstance(text, str) else text


def text_column(field: str, *, case_exact: bool = False) -> Callable[[str, Any], Q | None]:
    """A string column: `eq` on `field__ci` (the `lower()` index) or exact, the others as LIKE."""

    def compare(op: str, value: Any) -> Q | None:
        if op == "pr":
            return ~Q(**{field: ""}) & Q(**{f"{field}__isnull": False})
        if not isinstance(value, str):
            return None
        prefix = "" if case_exact else "i"
        lookup = {"eq": "exact" if case_exact else "ci", "ne": "exact" if case_exact else "ci",
                  "co": f"{prefix}contains", "sw": f"{prefix}startswith", "ew": f"{prefix}endswith",
                  "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}[op]  # fmt: skip
        q = Q(**{f"{field}__{lookup}": value})
        return ~q if op == "ne" else q

    return compare


def date_column(field: str) -> Callable[[str, Any], Q | None]:
    def compare(op: str, value: Any) -> Q | None:
        if op == "pr":
            return Q(**{f"{field}__isnull": False})
        moment = parse_datetime(value)
        if moment is None or op in ("co", "sw", "ew"):
            return None
        lookup = {"eq": "exact", "ne": "exact", "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}[op]
        q = Q(**{f"{field}__{lookup}": moment})
        return ~q if op == "ne" else q

    return compare


def parse_datetime(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# ------------------------------------------------------------------------------------------- memory
def _matches(node: Any, resource: Any) -> bool:
    if isinstance(node, ast.Filter):
        if node.namespace is not None:  # emails[…]: any element of the multi-valued attribute
            items = _values(resource, node.namespace.attr_name, None)
            found = any(isinstance(i, Mapping) and _matches(node.expr, i) for i in items)
        else:
            found = _matches(node.expr, resource)
        return not found if node.negated else found
    if isinstance(node, ast.LogExpr):
        if node.op.lower() == "and":
            return _matches(node.expr1, resource) and _matches(node.expr2, resource)
        return _matches(node.expr1, resource) or _matches(node.expr2, resource)
    if isinstance(node, ast.AttrExpr):
        path = node.attr_path
        if isinstance(path.attr_name, ast.Filter):  # emails[type eq "work"].value eq "…"
            inner = path.attr_name
            items = [i for i in _values(resource, inner.namespace.attr_name, None) if isinstance(i, Mapping)]
            items = [i for i in items if _matches(inner.expr, i)]
            sub = inner.namespace.sub_attr.value if inner.namespace.sub_attr else "value"
            values = [v for i in items for v in _values(i, sub, None)]
            name = sub
        else:
            sub = path.sub_attr.value if path.sub_attr else None
            values = _values(resource, path.attr_name, sub)
            name = sub or path.attr_name
        return _compare(
            node.value.lower(), values, comparison_value(node.comp_value), name.lower() in CASE_EXACT
        )
    return False


def _values(resource: Any, attr: str, sub: str | None) -> list[Any]:
    """The values at attr[.sub] (keys compare case-blind; a multi-valued attribute gives each element's)."""
    if not isinstance(resource, Mapping):
        return []
    value = next((v for k, v in resource.items() if k.lower() == attr.lower()), None)
    if value is None and ":" not in attr:  # an extension's attribute by its short name
        for key, extension in resource.items():
            if key.startswith("urn:") and isinstance(extension, Mapping):
                value = next((v for k, v in extension.items() if k.lower() == attr.lower()), value)
    items = value if isinstance(value, list) else [value] if value is not None else []
    if sub is None:
        return items
    found = []
    for item in items:
        found += _values(item, sub, None)
    return found


def _compare(op: str, values: list[Any], wanted: Any, case_exact: bool) -> bool:
    if op == "pr":
        return any(v not in (None, "", [], {}) for v in values)
    if op == "ne":
        return not _compare("eq", values, wanted, case_exact)
    return any(_one(op, value, wanted, case_exact) for value in values)


def _one(op: str, value: Any, wanted: Any, case_exact: bool) -> bool:
    if isinstance(value, bool) or isinstance(wanted, bool):
        return op == "eq" and str(value).lower() == str(wanted).lower()
    moments = parse_datetime(value), parse_datetime(wanted)
    if op in ("gt", "ge", "lt", "le", "eq") and None not in moments and "T" in str(value):
        left, right = moments
    else:
        left, right = str(value), str(wanted)
        if not case_exact:
            left, right = left.casefold(), right.casefold()
    return {
        "eq": lambda: left == right, "co": lambda: right in left, "sw": lambda: left.startswith(right),
        "ew": lambda: left.endswith(right), "gt": lambda: left > right, "ge": lambda: left >= right,
        "lt": lambda: left < right, "le": lambda: left <= right,
    }[op]()  # fmt: skip
