"""The QBO query language subset: SELECT, WHERE (= < > <= >= IN LIKE, AND), ORDERBY, paging."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from qbo_emulator import choices, faults, index, wire
from qbo_emulator.books import Company, Entity
from qbo_emulator.entities import FILTERABLE, SPECS

TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:\\.|[^'\\])*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|=|<|>|\(|\)|,|\*)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)
OPS = {"=", "<", ">", "<=", ">=", "in", "like"}
LIST_KINDS = {"list", "tax"}


@dataclass
class Query:
    entity: str
    count: bool = False
    fields: list[str] | None = None
    where: list[tuple[str, str, Any]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)
    start: int = 1
    max_results: int = 100


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip().rstrip(";")
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if not match or match.end() == pos:
            if text[pos:].strip() == "":
                break
            raise faults.query_parse(f'Encountered " "{text[pos]}" " at line 1, column {pos + 1}.')
        pos = match.end()
        if match.group("str") is not None:
            out.append(("str", re.sub(r"\\(.)", r"\1", match.group("str")[1:-1])))
        elif match.group("num") is not None:
            out.append(("num", Decimal(match.group("num"))))
        elif match.group("op") is not None:
            out.append(("op", match.group("op")))
        else:
            out.append(("word", match.group("word")))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise faults.query_parse('Encountered "<EOF>" at line 1.')
        self.i += 1
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "word" and str(tok[1]).lower() == word:
            self.i += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.keyword(word):
            tok = self.peek()
            raise faults.query_parse(f'Encountered "{tok[1] if tok else "<EOF>"}", expected {word}')

    def value(self) -> Any:
        kind, val = self.next()
        if kind in {"str", "num"}:
            return val
        if kind == "word" and str(val).lower() in {"true", "false"}:
            return str(val).lower() == "true"
        raise faults.query_parse(f'Encountered "{val}" where a value was expected')

    def parse(self) -> Query:
        self.expect("select")
        count, fields = False, None
        if self.keyword("count"):
            for expected in ("(", "*", ")"):
                if self.next() != ("op", expected):
                    raise faults.query_parse("count(*) expected")
            count = True
        else:
            names: list[str] = []
            star = False
            while True:
                kind, val = self.next()
                if kind == "op" and val == "*":
                    star = True
                    if self.peek() != ("op", ","):
                        break
                    self.i += 1
                    continue
                if kind != "word":
                    raise faults.query_parse(f'Encountered "{val}" in the select list')
                names.append(str(val))
                if self.peek() != ("op", ","):
                    break
                self.i += 1
            fields = None if star else names
        self.expect("from")
        kind, entity = self.next()
        if kind != "word" or entity not in SPECS:
            raise faults.query_validation(f"Invalid context declaration : {entity}")
        query = Query(str(entity), count, fields)
        if self.keyword("where"):
            while True:
                query.where.append(self.condition())
                if not self.keyword("and"):
                    break
        if self.keyword("orderby") or (self.keyword("order") and self.keyword("by")):
            while True:
                kind, name = self.next()
                descending = self.keyword("desc")
                if not descending:
                    self.keyword("asc")
                query.order.append((str(name), descending))
                if self.peek() != ("op", ","):
                    break
                self.i += 1
        while self.peek() is not None:
            if self.keyword("startposition"):
                query.start = max(1, int(self.value()))
            elif self.keyword("maxresults"):
                query.max_results = int(self.value())
                if query.max_results > 1000:
                    raise faults.query_validation(
                        f"value {query.max_results} is too large. Max allowed value is 1000"
                    )
            else:
                raise faults.query_parse(f'Encountered "{self.next()[1]}" at the end of the query')
        return query

    def condition(self) -> tuple[str, str, Any]:
        kind, name = self.next()
        if kind != "word":
            raise faults.query_parse(f'Encountered "{name}" where a property was expected')
        _, op = self.next()
        op = str(op).lower()
        if op not in OPS:
            raise faults.query_parse(f'Encountered "{op}" where an operator was expected')
        if op == "in":
            if self.next() != ("op", "("):
                raise faults.query_parse("IN needs a list in parentheses")
            values = [self.value()]
            while self.peek() == ("op", ","):
                self.i += 1
                values.append(self.value())
            if self.next() != ("op", ")"):
                raise faults.query_parse("IN list not closed")
            return str(name), op, values
        return str(name), op, self.value()


def parse(text: str) -> Query:
    query = _Parser(text).parse()
    _validate(query)
    return query


def _known(entity: str, name: str) -> bool:
    return name.split(".")[0] in SPECS[entity].fields


def _not_found(entity: str, name: str) -> faults.QboFault:
    return faults.query_validation(f"Property {name} not found for Entity {entity}")


def _validate(query: Query) -> None:
    """QBO refuses a query naming a property the entity lacks, or filtering on one it has but
    cannot filter on (choices.QUERY_FILTERABLE_SOURCE); it never answers such a query empty."""
    entity = query.entity
    for name in query.fields or ():
        if not _known(entity, name):
            raise _not_found(entity, name)
    for name, _, _ in query.where:
        if name in FILTERABLE[entity]:
            continue
        if not _known(entity, name):
            raise _not_found(entity, name)
        raise faults.query_validation(f"property '{name}' is not queryable")
    for name, _ in query.order:
        if not _known(entity, name):
            raise _not_found(entity, name)


_field = index.field_value


def _comparable(left: Any, right: Any) -> tuple[Any, Any] | None:
    if left is None:
        return None
    if isinstance(right, bool) or isinstance(left, bool):
        return (left, right) if isinstance(left, bool) and isinstance(right, bool) else None
    if isinstance(right, Decimal):
        number = wire.to_decimal(left)
        return (number, right) if number is not None else None
    text, right_text = str(left), str(right)
    if "T" in right_text and ":" in right_text:
        moment_left, moment_right = wire.parse_moment(text), wire.parse_moment(right_text)
        if moment_left and moment_right and moment_left.tzinfo and moment_right.tzinfo:
            return moment_left, moment_right
    if text[:1].isdigit() or text[:1] == "-":
        number, other = wire.to_decimal(text), wire.to_decimal(right_text)
        if number is not None and other is not None:
            return number, other
    if choices.QUERY_STRINGS_CASE_INSENSITIVE:
        return text.lower(), str(right).lower()
    return text, str(right)


def _matches(obj: Entity, name: str, op: str, value: Any) -> bool:
    left = _field(obj, name)
    if op == "in":
        return any(_matches_value(left, "=", v) for v in value)
    return _matches_value(left, op, value)


def _matches_value(left: Any, op: str, right: Any) -> bool:
    pair = _comparable(left, right)
    if pair is None:
        return False
    a, b = pair
    if op == "like":
        pattern = "^" + ".*".join(re.escape(p) for p in str(b).split("%")) + "$"
        return re.match(pattern, str(a), re.DOTALL) is not None
    try:
        return bool({"=": a == b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op])
    except TypeError:
        return False


def _visible(company: Company, entity: str) -> list[Entity]:
    rows = list(company.table(entity).values())
    if entity == "TaxCode":
        pseudo = [
            {"Name": code, "Id": code, "Active": True, "Taxable": code == "TAX", "domain": "QBO",
             "sparse": False, "Description": code}
            for code in ("TAX", "NON", "CustomSalesTax")
        ]  # fmt: skip
        rows = pseudo + rows
    return rows


def _indexed(
    company: Company, entity: str, where: list[tuple[str, str, Any]]
) -> list[Entity] | None:
    """Candidates from the most selective equality index (table order), or None: scan."""
    if entity == "TaxCode":
        return None  # the pseudo codes TAX/NON/CustomSalesTax are not stored
    conditions = [
        (name, value if op == "in" else [value])
        for name, op, value in where
        if op in {"=", "in"} and name in index.QUERY_FIELDS
    ]
    return company.find(entity, conditions) if conditions else None


def run(company: Company, text: str) -> dict[str, Any]:
    query = parse(text)
    spec = SPECS[query.entity]
    where = list(query.where)
    active_only = (
        choices.QUERY_DEFAULT_ACTIVE_ONLY
        and spec.kind in LIST_KINDS
        and not any(name == "Active" for name, _, _ in where)
    )
    rows = _indexed(company, query.entity, where)
    if rows is None:
        rows = _visible(company, query.entity)
    selected = [
        r
        for r in rows
        if all(_matches(r, n, op, v) for n, op, v in where)
        and not (active_only and r.get("Active") is False)  # no Active field: not inactive
        and not (company.hidden and (query.entity, r.get("Id")) in company.hidden)
    ]
    if query.count:
        return {"totalCount": len(selected)}
    for name, descending in reversed(query.order):
        selected.sort(key=_order_key(name), reverse=descending)
    if not query.order:
        selected.sort(key=lambda r: _sort_key(r.get("Id")))
    page = selected[query.start - 1 : query.start - 1 + query.max_results]
    if not page:
        return {}
    if query.fields and query.fields != ["*"]:
        page = [_project(r, query.fields) for r in page]
    return {query.entity: page, "startPosition": query.start, "maxResults": len(page)}


def _order_key(name: str) -> Callable[[Entity], tuple[int, Any]]:
    return lambda row: _sort_key(_field(row, name))


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    number = wire.to_decimal(value) if not isinstance(value, bool) else None
    if number is not None:
        return (1, number)
    return (2, str(value).lower())


def _project(obj: Entity, fields: list[str]) -> Entity:
    """Only the selected properties and `sparse: true`, no `domain` (choices.PROJECTION_SHAPE)."""
    out: Entity = {"sparse": True}
    for name in fields:
        top = name.split(".")[0]
        if top in obj:
            out[top] = obj[top]
    return out
