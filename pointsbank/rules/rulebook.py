"""Rule books: the YAML a community publishes, parsed and checked into frozen dataclasses.

Invariants of every :class:`RuleBook` that ``parse_rulebook`` returns (it refuses the rest):

* category codes are unique; rule codes are unique and match ``^[a-z][a-z0-9_]{0,63}$``;
  every rule's category exists;
* a rule's ``points`` is a non-zero ``int`` (never a bool or a float), ``|points| <= 100000``;
* caps have distinct periods, and each limits points and/or count with positive ints;
* every name has a non-empty Chinese and English form; a rule's date range is not reversed.

Staff edit these files by hand, so ``parse_rulebook`` reports *every* problem at once, each
with its 1-based YAML line and the field path, and raises nothing but :class:`RuleBookError`
(bad YAML, bytes that are not UTF-8, a list at the top…)::

    >>> parse_rulebook("version: 2026.2\\neffective_from: 2026-02-30\\n")
    Traceback (most recent call last):
    pointsbank.rules.rulebook.RuleBookError: line 1, version: must be a string (put it in quotes)
    line 1, categories: is required
    line 1, rules: is required
    line 2, effective_from: 2026-02-30 is not a real date
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import Any

import yaml

PERIODS = ("month", "quarter", "year")
UNITS = ("occurrence", "hour")
APPROVALS = ("auto", "staff", "two_person")
EVIDENCE = ("optional", "required")
MAX_POINTS = 100_000
CODE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")  # always used with fullmatch
_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")


@dataclass(frozen=True)
class Cap:
    period: str
    points: int | None = None
    count: int | None = None


@dataclass(frozen=True)
class Category:
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Rule:
    code: str
    category: str
    name_zh: str
    name_en: str
    points: int
    unit: str = "occurrence"
    max_quantity: int | None = None
    caps: tuple[Cap, ...] = ()
    approval: str = "auto"
    two_person_above: int | None = None
    evidence: str = "optional"
    effective_from: date | None = None
    effective_until: date | None = None
    #: shown by name on public boards; None = the default (additions yes, deductions no)
    public: bool | None = None

    @property
    def is_public(self) -> bool:
        return self.points >= 0 if self.public is None else self.public


@dataclass(frozen=True)
class RuleBook:
    version: str
    effective_from: date
    categories: tuple[Category, ...]
    rules: tuple[Rule, ...]

    def rule(self, code: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.code == code), None)

    def category(self, code: str) -> Category | None:
        return next((category for category in self.categories if category.code == code), None)

    def to_dict(self) -> dict:
        """JSON-able, in the shape of the YAML (so dumping it as YAML parses back equal)."""
        return {
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "categories": [{"code": c.code, "name": {"zh": c.name_zh, "en": c.name_en}}
                           for c in self.categories],
            "rules": [_rule_to_dict(rule) for rule in self.rules],
        }


def _rule_to_dict(rule: Rule) -> dict:
    return {
        "code": rule.code, "category": rule.category,
        "name": {"zh": rule.name_zh, "en": rule.name_en},
        "points": rule.points, "unit": rule.unit, "max_quantity": rule.max_quantity,
        "caps": [{k: v for k, v in (("period", c.period), ("points", c.points),
                                    ("count", c.count)) if v is not None} for c in rule.caps],
        "approval": rule.approval, "two_person_above": rule.two_person_above,
        "evidence": rule.evidence,
        "effective_from": rule.effective_from.isoformat() if rule.effective_from else None,
        "effective_until": rule.effective_until.isoformat() if rule.effective_until else None,
        "public": rule.public,
    }


@dataclass(frozen=True)
class RuleBookProblem:
    line: int | None
    field: str  # a path such as "rules[2].caps[0].period"; "" for the whole document
    message: str

    def __str__(self) -> str:
        where = ", ".join(part for part in (
            f"line {self.line}" if self.line is not None else "", self.field) if part)
        return f"{where}: {self.message}" if where else self.message


class RuleBookError(ValueError):
    """A rule book that cannot be published; ``problems`` lists every mistake found."""

    def __init__(self, problems: list[RuleBookProblem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def __reduce__(self):
        return type(self), (self.problems,)


def default_rulebook_text() -> str:
    """The rule book shipped with the package (the eight categories of the common scheme)."""
    resource = resources.files(__package__).joinpath("default_rulebook.yaml")
    return resource.read_text(encoding="utf-8")


def parse_rulebook(text: str | bytes) -> RuleBook:
    checker = _Checker()
    document = _load(text, checker)
    book = None if checker.problems else checker.book(document)
    if checker.problems or book is None:
        in_line_order = sorted(checker.problems, key=lambda p: (p.line is not None, p.line or 0))
        raise RuleBookError(in_line_order)
    return book


# -- YAML with line numbers -------------------------------------------------------------------


class _Map(dict):
    def __init__(self, line: int):
        super().__init__()
        self.line, self.key_lines = line, {}
        self.duplicates: list[tuple[str, int, int]] = []  # (key, first line, repeated line)


class _Seq(list):
    def __init__(self, line: int):
        super().__init__()
        self.line, self.item_lines = line, []


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that remembers 1-based lines and leaves dates as text for the checker."""


def _construct_map(loader: _LineLoader, node: yaml.MappingNode):
    data = _Map(node.start_mark.line + 1)
    yield data
    seen: dict[str, int] = {}
    for key_node, _ in node.value:  # before merging: a merge key's overrides are not repeats
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                data.duplicates.append((key_node.value, seen[key_node.value], line))
            seen.setdefault(key_node.value, line)
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain value", key_node.start_mark) from None
        data[key] = loader.construct_object(value_node)
        data.key_lines[key] = key_node.start_mark.line + 1


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode):
    data = _Seq(node.start_mark.line + 1)
    yield data
    for child in node.value:
        data.append(loader.construct_object(child))
        data.item_lines.append(child.start_mark.line + 1)


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_scalar)


def _load(text: Any, checker: _Checker) -> Any:
    if isinstance(text, (bytes, bytearray, memoryview)):
        raw = bytes(text)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            checker.add(raw[:exc.start].count(b"\n") + 1, "",
                        "not UTF-8 text; save the file as UTF-8")
            return None
    if not isinstance(text, str):
        checker.add(None, "", "a rule book must be YAML text")
        return None
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        checker.add(mark.line + 1 if mark else None, "",
                    f"not valid YAML: {exc.problem or exc.context}")
    except yaml.reader.ReaderError as exc:
        checker.add(text[:exc.position].count("\n") + 1, "", f"not valid YAML: {exc.reason}")
    except RecursionError:
        checker.add(None, "", "not valid YAML: nested too deeply")
    except Exception as exc:  # noqa: BLE001 - the contract: only RuleBookError, whatever YAML does
        checker.add(None, "", f"not valid YAML: {exc}")
    return None


# -- checking: small pure value checks, then one checker that adds lines and paths -----------


class _Bad(Exception):
    """What is wrong with one value; the checker adds its line and field path."""


def _text(max_length: int):
    def check(value: Any) -> str:
        if not isinstance(value, str):
            quote = " (put it in quotes)" if isinstance(value, (int, float)) else ""
            raise _Bad(f"must be a string{quote}")
        if not value.strip():
            raise _Bad("must not be empty")
        if len(value) > max_length:
            raise _Bad(f"must be at most {max_length} characters")
        return value
    return check


def _code(value: Any) -> str:
    if not CODE_PATTERN.fullmatch(_text(64)(value)):
        raise _Bad("must start with a lowercase letter and use only a-z, 0-9 and _ "
                   "(at most 64 characters)")
    return value


def _integer(message: str, ok):
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not ok(value):
            raise _Bad(message)  # bool is an int to Python, never to a rule book
        return value
    return check


def _points(value: Any) -> int:
    if abs(_integer("must be a non-zero integer", bool)(value)) > MAX_POINTS:
        raise _Bad(f"must be between -{MAX_POINTS} and {MAX_POINTS}")
    return value


def _choice(choices: tuple):
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise _Bad(f"must be one of: {', '.join(choices)}")
        return value
    return check


def _day(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    match = _DATE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise _Bad("must be a date like 2026-04-01")
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise _Bad(f"{value.strip()} is not a real date") from None


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad("must be true or false")
    return value


_positive = _integer("must be a positive integer", lambda v: v > 0)
# None marks a nested value that the checker walks itself.
_TOP = {"version": _text(32), "effective_from": _day, "categories": None, "rules": None}
_CATEGORY = {"code": _code, "name": None}
_NAME = {"zh": _text(200), "en": _text(200)}
_RULE = {"code": _code, "category": _text(64), "name": None, "points": _points,
         "unit": _choice(UNITS), "max_quantity": _positive, "caps": None,
         "approval": _choice(APPROVALS),
         "two_person_above": _integer("must be a non-negative integer", lambda v: v >= 0),
         "evidence": _choice(EVIDENCE), "effective_from": _day, "effective_until": _day,
         "public": _boolean}
_CAP = {"period": _choice(PERIODS), "points": _positive, "count": _positive}


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _line(m: Any, key: Any) -> int | None:
    return getattr(m, "key_lines", {}).get(key, getattr(m, "line", None))


class _Fields(dict):
    """The checked values of one YAML mapping (None when absent or wrong), and its lines."""

    def __init__(self, raw: _Map):
        super().__init__()
        self.raw, self.line, self.key_lines = raw, raw.line, raw.key_lines


class _Checker:
    def __init__(self) -> None:
        self.problems: list[RuleBookProblem] = []

    def add(self, line: int | None, field: str, message: str) -> None:
        self.problems.append(RuleBookProblem(line, field, message))

    def book(self, document: Any) -> RuleBook | None:
        if not isinstance(document, dict):
            self.add(getattr(document, "line", None if document is None else 1), "",
                     "the rule book is empty" if document is None else
                     f"the rule book must be a mapping with the keys: {', '.join(_TOP)}")
            return None
        top = self.fields(document, 1, "", _TOP, tuple(_TOP))
        categories, first_lines, known = [], {}, set()
        for f, path in self.each(top, "categories", "", _CATEGORY, tuple(_CATEGORY)):
            self.unique(f, path, "category", first_lines)
            if isinstance(f.raw.get("code"), str):  # a badly spelt code is reported once
                known.add(f.raw["code"])
            categories.append(Category(f["code"], *self.name(f, path)))
        rules = self.rules(top, known)
        if self.problems:
            return None
        return RuleBook(top["version"], top["effective_from"], tuple(categories), tuple(rules))

    def rules(self, top: _Fields, known: set) -> list[Rule]:
        found, first_lines = [], {}
        for f, path in self.each(top, "rules", "", _RULE, ("code", "category", "name", "points")):
            self.unique(f, path, "rule", first_lines)
            if f["category"] is not None and f["category"] not in known:
                self.add(_line(f, "category"), _join(path, "category"),
                         f"unknown category {f['category']!r} "
                         f"(the categories are: {', '.join(sorted(known))})")
            starts, ends = f["effective_from"], f["effective_until"]
            if starts is not None and ends is not None and ends < starts:
                self.add(_line(f, "effective_until"), _join(path, "effective_until"),
                         f"must not be before effective_from ({starts.isoformat()})")
            found.append(Rule(
                f["code"], f["category"], *self.name(f, path), points=f["points"],
                unit=f["unit"] or "occurrence", max_quantity=f["max_quantity"],
                caps=self.caps(f, path), approval=f["approval"] or "auto",
                two_person_above=f["two_person_above"], evidence=f["evidence"] or "optional",
                effective_from=starts, effective_until=ends, public=f["public"]))
        return found

    def caps(self, rule: _Fields, path: str) -> tuple[Cap, ...]:
        found, period_lines = [], {}
        for f, cap_path in self.each(rule, "caps", path, _CAP, ("period",), non_empty=False):
            if f.raw.get("points") is None and f.raw.get("count") is None:
                self.add(f.line, cap_path, "a cap needs points, count or both")
            if f["period"] in period_lines:
                self.add(_line(f, "period"), _join(cap_path, "period"), f"there is already a "
                         f"{f['period']} cap (line {period_lines[f['period']]})")
            elif f["period"] is not None:
                period_lines[f["period"]] = _line(f, "period")
            found.append(Cap(f["period"], f["points"], f["count"]))
        return tuple(found)

    def name(self, parent: _Fields, path: str) -> tuple[str | None, str | None]:
        if parent.raw.get("name") is None:
            return None, None  # already reported as required
        f = self.fields(parent.raw["name"], _line(parent, "name"), _join(path, "name"),
                        _NAME, tuple(_NAME))
        return (None, None) if f is None else (f["zh"], f["en"])

    def unique(self, f: _Fields, path: str, kind: str, first_lines: dict) -> None:
        code, line = f["code"], _line(f, "code")
        if code in first_lines:
            self.add(line, _join(path, "code"),
                     f"duplicate {kind} code {code!r} (first on line {first_lines[code]})")
        elif code is not None:
            first_lines[code] = line

    def each(self, parent: _Fields, key: str, path: str, spec: dict, required: tuple, *,
             non_empty: bool = True):
        """(checked fields, path) of every mapping in the list ``parent[key]``."""
        value, line, field = parent.raw.get(key), _line(parent, key), _join(path, key)
        if value is None:
            return
        if not isinstance(value, list):
            self.add(line, field, "must be a list")
            return
        if non_empty and not value:
            self.add(line, field, "must not be empty")
        lines = getattr(value, "item_lines", ())
        for i, item in enumerate(value):
            f = self.fields(item, lines[i] if i < len(lines) else line, f"{field}[{i}]",
                            spec, required)
            if f is not None:
                yield f, f"{field}[{i}]"

    def fields(self, value: Any, line: int | None, path: str, spec: dict,
               required: tuple) -> _Fields | None:
        """Check one mapping against ``spec``; optional keys given as null count as absent."""
        if not isinstance(value, dict):
            self.add(line, path, f"must be a mapping with the keys: {', '.join(spec)}")
            return None
        for key, first, again in value.duplicates:
            self.add(again, _join(path, key), f"is given twice (first on line {first})")
        for key in value:
            if key not in spec:
                self.add(_line(value, key), _join(path, key),
                         f"unknown key (expected one of: {', '.join(spec)})")
        checked = _Fields(value)
        for key, check in spec.items():
            checked[key] = None
            if value.get(key) is None:
                if key in required:
                    self.add(_line(value, key), _join(path, key), "is required")
            elif check is not None:
                try:
                    checked[key] = check(value[key])
                except _Bad as bad:
                    self.add(_line(value, key), _join(path, key), str(bad))
        return checked
