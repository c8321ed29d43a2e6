"""Number series: patterns, reset periods, counters, and the numbers plugins take.

Plugins register series keys through ``udyog_series``; each tenant keeps one
:class:`~udyog.models.NumberSeries` row per key (pattern, reset period,
gap-free flag, its own limits) and one :class:`~udyog.models.SeriesCounter`
row per (series, period, branch). See ``docs/number-series.md``.

Taking a number (:func:`next_number`) happens in the caller's transaction:

1. the series row is read with ``FOR KEY SHARE`` on PostgreSQL, so that a
   change of its settings (which locks the row ``FOR UPDATE``) waits for the
   transactions taking numbers and they, in turn, see the change once it is
   committed;
2. the counter is incremented with one ``UPDATE ... RETURNING``, which
   locks the counter row until the caller commits or rolls back. A rollback
   gives the number back; a concurrent transaction waits for the lock and
   then increments the committed value, so no number is handed out twice.
   On SQLite, writing transactions begin ``IMMEDIATE`` and are serialized;
3. a counter that does not exist yet is inserted in a SAVEPOINT; when a
   concurrent transaction inserted it first, the unique constraint refuses
   ours and the increment is retried against theirs.

Everything here is plain functions over a tenant scope (or a session), called
alike from the SDK accessor, the REST API, the CLI and tests.
"""

from __future__ import annotations

import re
import threading
import weakref
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, String, Uuid, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from udyog.db import PreparedStatement, TenantBoundaryError
from udyog.models import Branch, NumberSeries, SeriesCounter
from udyog_sdk import UdyogError
from udyog_sdk.series import RESETS, SeriesConstraint, SeriesDefinition

if TYPE_CHECKING:
    from udyog.db import TenantSession
    from udyog.hookbus import HookRelay
    from udyog.kernel import Kernel, TenantScope
    from udyog_sdk import TenantContext

#: Longest pattern a tenant may store (the column's length).
PATTERN_MAX_LENGTH = 120
#: Widest ``{seq:0N}``: 18 digits still fit the counter's BIGINT.
SEQ_MAX_WIDTH = 18
#: Longest branch code (``core_branch.code``).
BRANCH_CODE_MAX_LENGTH = 16
#: Largest ``max_length`` a series may carry.
MAX_LENGTH_LIMIT = 1000
#: Longest ``allowed_chars`` text (the column's length).
ALLOWED_CHARS_MAX_LENGTH = 200
#: Series keys: ``<plugin>.<thing>``, lower case, at most 80 characters.
KEY_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
KEY_MAX_LENGTH = 80

#: Date tokens and the width of what they render.
DATE_TOKENS: dict[str, int] = {"YYYY": 4, "YY": 2, "MM": 2, "FY": 7, "FY_SHORT": 5}
BRANCH_TOKEN = "BRANCH"
TOKEN_HELP = "{YYYY} {YY} {MM} {FY} {FY_SHORT} {BRANCH} {seq:0N}"
_SEQ_RE = re.compile(r"^seq:0([0-9]{1,2})$")
_DIGITS = frozenset("0123456789")


class SeriesRegistrationError(UdyogError):
    """A plugin registered series the core refuses (bad key, duplicate, bad default)."""

    def __init__(self, problems: Mapping[str, list[str]]) -> None:
        lines = [f"{plugin}: {problem}" for plugin, items in sorted(problems.items()) for problem in items]
        super().__init__(
            "invalid number series registration: " + "; ".join(lines),
            status=409,
            errors={"plugins": lines},
        )
        self.problems = {plugin: list(items) for plugin, items in problems.items()}


# -- patterns ----------------------------------------------------------------------


class PatternError(ValueError):
    """A pattern that cannot be parsed; ``problems`` says why, one message each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Pattern:
    """A parsed pattern: literal text, date and branch tokens, and one sequence token."""

    text: str
    #: ``("text", "INV/")``, ``("token", "FY")`` or ``("seq", 4)``, in order.
    parts: tuple[tuple[str, Any], ...]
    seq_width: int
    tokens: frozenset[str]

    @property
    def has_branch(self) -> bool:
        """Whether numbers are counted per branch (the pattern has ``{BRANCH}``)."""
        return BRANCH_TOKEN in self.tokens

    @property
    def largest_value(self) -> int:
        """The largest counter the sequence token renders at its width (``{seq:04}``: 9999)."""
        return 10**self.seq_width - 1

    def render(self, value: int, day: date, branch: str = "") -> str:
        """The number for counter ``value`` on ``day`` (at ``branch``)."""
        out: list[str] = []
        for kind, arg in self.parts:
            if kind == "text":
                out.append(arg)
            elif kind == "seq":
                out.append(f"{value:0{arg}d}")
            elif arg == BRANCH_TOKEN:
                out.append(branch)
            else:
                out.append(date_token(arg, day))
        return "".join(out)

    def characters(self, branch_codes: Iterable[str] = ()) -> frozenset[str]:
        """Every character a number of this pattern can contain (branch codes as given)."""
        chars: set[str] = set(_DIGITS)  # the sequence, and every date token
        for kind, arg in self.parts:
            if kind == "text":
                chars.update(arg)
            elif arg in ("FY", "FY_SHORT"):
                chars.add("-")
        if self.has_branch:
            for code in branch_codes:
                chars.update(code)
        return frozenset(chars)


@lru_cache(maxsize=1024)
def parse_pattern(text: str) -> Pattern:
    """Parse a pattern such as ``INV/{FY}/{seq:04}``; :class:`PatternError` lists every problem."""
    problems: list[str] = []
    if not text:
        raise PatternError(["must not be empty"])
    if len(text) > PATTERN_MAX_LENGTH:
        problems.append(f"has {len(text)} characters; a pattern has at most {PATTERN_MAX_LENGTH}")
    if not text.isprintable():
        problems.append("must be printable text (no tabs, line breaks or control characters)")
    parts: list[tuple[str, Any]] = []
    tokens: set[str] = set()
    widths: list[int] = []
    bad_seq = False
    literal: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "}":
            problems.append(f"'}}' at position {i + 1} closes no token; literal braces are not allowed")
            i += 1
            continue
        if char != "{":
            literal.append(char)
            i += 1
            continue
        end = text.find("}", i + 1)
        nested = text.find("{", i + 1)
        if end == -1 or (nested != -1 and nested < end):
            problems.append(f"'{{' at position {i + 1} is not closed; tokens are {TOKEN_HELP}")
            i += 1
            continue
        name = text[i + 1 : end]
        if literal:
            parts.append(("text", "".join(literal)))
            literal = []
        seq = _SEQ_RE.match(name)
        if name in DATE_TOKENS or name == BRANCH_TOKEN:
            parts.append(("token", name))
            tokens.add(name)
        elif seq and 1 <= int(seq.group(1)) <= SEQ_MAX_WIDTH:
            width = int(seq.group(1))
            parts.append(("seq", width))
            widths.append(width)
        elif name.startswith("seq"):
            bad_seq = True
            problems.append(
                f"{{{name}}}: write the sequence as {{seq:0N}} with N digits from 1 to {SEQ_MAX_WIDTH}, e.g. {{seq:04}}"
            )
        else:
            problems.append(f"unknown token {{{name}}}; tokens are {TOKEN_HELP}")
        i = end + 1
    if literal:
        parts.append(("text", "".join(literal)))
    if not widths and not bad_seq:
        problems.append("needs exactly one {seq:0N} token for the sequence, e.g. INV/{FY}/{seq:04}")
    elif len(widths) > 1:
        problems.append(f"has {len(widths)} {{seq:0N}} tokens; exactly one is allowed")
    if problems:
        raise PatternError(problems)
    return Pattern(text=text, parts=tuple(parts), seq_width=widths[0], tokens=frozenset(tokens))


def reset_problem(pattern: Pattern, reset: str) -> str | None:
    """Why ``pattern`` would repeat numbers under ``reset`` (None: it cannot).

    A counter that restarts each period needs the period in the number:
    otherwise the first number of every period is the same text.
    """
    year = bool(pattern.tokens & {"YYYY", "YY"})
    fy = bool(pattern.tokens & {"FY", "FY_SHORT"})
    month = "MM" in pattern.tokens and (year or fy)  # FY and month name one calendar month too
    if reset == "yearly" and not (year or month):
        return "a yearly reset needs the year in the pattern ({YYYY} or {YY}), or numbers repeat every year"
    if reset == "financial_year" and not (fy or month):
        return (
            "a financial-year reset needs {FY} or {FY_SHORT} in the pattern (or the year and {MM}), "
            "or numbers repeat every financial year"
        )
    if reset == "monthly" and not month:
        return (
            "a monthly reset needs {MM} and the year ({YYYY}, {YY}, {FY} or {FY_SHORT}) in the pattern, "
            "or numbers repeat every month"
        )
    return None


# -- dates and periods ---------------------------------------------------------------


def fy_start(day: date) -> int:
    """The calendar year in which ``day``'s Indian financial year (1 April - 31 March) begins."""
    return day.year if day.month >= 4 else day.year - 1


def date_token(name: str, day: date) -> str:
    """What a date token renders for ``day``."""
    if name == "YYYY":
        return f"{day.year:04d}"
    if name == "YY":
        return f"{day.year % 100:02d}"
    if name == "MM":
        return f"{day.month:02d}"
    start = fy_start(day)
    if name == "FY":
        return f"{start:04d}-{(start + 1) % 100:02d}"
    if name == "FY_SHORT":
        return f"{start % 100:02d}-{(start + 1) % 100:02d}"
    raise ValueError(f"unknown date token {name!r}")


def period_key(reset: str, day: date) -> str:
    """The counter's period for ``day``: ``""`` (never), ``Y2026``, ``FY2025-26`` or ``M2026-04``.

    The prefix tells the kinds apart, so counters kept from before a change of
    the reset period are never mistaken for the new kind.
    """
    if reset == "never":
        return ""
    if reset == "yearly":
        return f"Y{day.year:04d}"
    if reset == "financial_year":
        return f"FY{date_token('FY', day)}"
    if reset == "monthly":
        return f"M{day.year:04d}-{day.month:02d}"
    raise ValueError(f"unknown reset period {reset!r}")


def period_range(key: str) -> tuple[date, date]:
    """The dates ``[first, after)`` a period key covers (all time for ``""`` or an unknown key)."""
    everything = (date.min, date.max)
    try:
        if key.startswith("FY"):
            start = int(key[2:6])
            return date(start, 4, 1), date(start + 1, 4, 1)
        if key.startswith("Y"):
            year = int(key[1:])
            return date(year, 1, 1), date(year + 1, 1, 1)
        if key.startswith("M"):
            year, month = int(key[1:5]), int(key[6:8])
            after = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
            return date(year, month, 1), after
    except ValueError:
        return everything
    return everything


def _now() -> datetime:
    """The current time (a seam for tests that move the clock)."""
    return datetime.now(UTC)


def tenant_today(timezone: str, now: datetime | None = None) -> date:
    """Today's date in the tenant's timezone (the date a number is taken)."""
    moment = now if now is not None else _now()
    return moment.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def document_date(timezone: str, on: date | None) -> date:
    """The date a number is taken for: ``on``, or today in the tenant's timezone.

    A timezone-aware ``datetime`` is converted to the tenant's timezone first
    (``2026-03-31T20:00Z`` is 1 April in Asia/Kolkata); a naive one is refused.
    """
    if on is None:
        return tenant_today(timezone)
    if isinstance(on, datetime):
        if on.tzinfo is None:
            raise ValueError("a naive datetime names no moment: pass a date, or an aware datetime")
        return tenant_today(timezone, on)
    return on


# -- limits ----------------------------------------------------------------------------


@lru_cache(maxsize=256)
def parse_charset(text: str) -> frozenset[str]:
    """The characters ``text`` allows: single characters, and ranges ``a-z``, ``A-Z``, ``0-9``.

    A ``-`` that does not join two letters or two digits is literal, so the
    GST set is ``A-Za-z0-9/-``. Raises :class:`ValueError` for an empty set.
    """
    if not text:
        raise ValueError("must name at least one character")
    chars: set[str] = set()
    i = 0
    while i < len(text):
        first = text[i]
        if i + 2 < len(text) and text[i + 1] == "-" and _same_class(first, text[i + 2]) and first <= text[i + 2]:
            chars.update(chr(c) for c in range(ord(first), ord(text[i + 2]) + 1))
            i += 3
        else:
            chars.add(first)
            i += 1
    return frozenset(chars)


def _same_class(a: str, b: str) -> bool:
    ranges = ("az", "AZ", "09")
    return any(lo <= a <= hi and lo <= b <= hi for lo, hi in ranges)


@dataclass(frozen=True)
class Limit:
    """One rule on a series' numbers, with where it comes from and why.

    ``source`` is the plugin that set it, or ``"series"`` for the tenant's
    own limits on the series row.
    """

    source: str
    reason: str
    max_length: int | None = None
    allowed_chars: str | None = None
    resets: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the API."""
        return {
            "plugin": self.source,
            "reason": self.reason,
            "max_length": self.max_length,
            "allowed_chars": self.allowed_chars,
            "resets": list(self.resets) if self.resets is not None else None,
        }


def _limit_problems(limit: Limit) -> list[str]:
    problems: list[str] = []
    if limit.max_length is not None and (
        not isinstance(limit.max_length, int) or not 1 <= limit.max_length <= MAX_LENGTH_LIMIT
    ):
        problems.append(f"max_length must be a whole number from 1 to {MAX_LENGTH_LIMIT}")
    if limit.allowed_chars is not None:
        try:
            parse_charset(limit.allowed_chars)
        except (ValueError, TypeError):
            problems.append("allowed_chars must name at least one character")
    if limit.resets is not None and (not limit.resets or set(limit.resets) - set(RESETS)):
        problems.append(f"resets must be some of {', '.join(RESETS)}")
    return problems


def constraints_for(relay: HookRelay, key: str) -> list[Limit]:
    """Constraints the tenant's enabled plugins put on series ``key`` (``udyog_series_constraints``).

    ``relay`` is the tenant's hook relay, so plugins the tenant has not
    enabled take no part. Constraints for other keys are ignored; malformed
    ones raise :class:`SeriesRegistrationError` naming the plugin.
    """
    caller = relay.udyog_series_constraints
    limits: list[Limit] = []
    problems: dict[str, list[str]] = {}
    for impl in sorted(caller.get_hookimpls(), key=lambda i: i.plugin_name):
        result = impl.function(**{a: key for a in impl.argnames})
        for item in result or ():
            if not isinstance(item, SeriesConstraint):
                problems.setdefault(impl.plugin_name, []).append(
                    f"udyog_series_constraints returned {type(item).__name__}, not SeriesConstraint"
                )
                continue
            if item.key != key:
                continue
            limit = Limit(impl.plugin_name, item.reason, item.max_length, item.allowed_chars, item.resets)
            found = _limit_problems(limit)
            if not item.reason:
                found.append("a constraint needs a reason")
            if found:
                problems.setdefault(impl.plugin_name, []).extend(f"constraint on {key}: {p}" for p in found)
                continue
            limits.append(limit)
    if problems:
        raise SeriesRegistrationError(problems)
    return limits


# -- the catalogue of registered series ------------------------------------------------------


@dataclass(frozen=True)
class RegisteredSeries:
    """A series key a plugin registered, with its parsed default pattern."""

    plugin: str
    definition: SeriesDefinition
    pattern: Pattern

    @property
    def key(self) -> str:
        """The series key (``sales.invoice``)."""
        return self.definition.key

    def limit(self) -> Limit | None:
        """The limits the registering plugin set on its own series (always in force)."""
        d = self.definition
        if d.max_length is None and d.allowed_chars is None:
            return None
        return Limit(self.plugin, f"set by {self.plugin} for {d.title}", d.max_length, d.allowed_chars)


@dataclass
class SeriesCatalog:
    """Every valid series registration of the loaded plugins, and the problems of the others."""

    entries: dict[str, RegisteredSeries] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)

    def get(self, key: str) -> RegisteredSeries | None:
        """The registration of ``key``, if valid."""
        return self.entries.get(key)

    def of_plugin(self, plugin: str) -> list[RegisteredSeries]:
        """The series ``plugin`` registered, by key."""
        return sorted((e for e in self.entries.values() if e.plugin == plugin), key=lambda e: e.key)

    def check_plugin(self, plugin: str) -> None:
        """Raise :class:`SeriesRegistrationError` if ``plugin``'s registrations were refused."""
        if self.problems.get(plugin):
            raise SeriesRegistrationError({plugin: self.problems[plugin]})


def build_catalog(contributions: Iterable[tuple[str, Any]]) -> SeriesCatalog:
    """Validate ``(plugin, [SeriesDefinition, ...])`` pairs, in plugin-name order.

    Keys are ``<plugin>.<thing>`` and must start with the registering plugin's
    name; a key registered twice is refused, naming both plugins (the plugin
    the key belongs to keeps it, unless it registered it twice); the default
    pattern must parse, suit the default reset period and keep the plugin's
    own limits. A plugin with any refused registration keeps none: enabling
    it, or taking its numbers, raises :class:`SeriesRegistrationError`; other
    plugins are unaffected.
    """
    catalog = SeriesCatalog()
    pending: list[tuple[str, SeriesDefinition]] = []
    registrants: dict[Any, list[str]] = {}
    for plugin, result in sorted(contributions, key=lambda pair: pair[0]):
        problems = catalog.problems.setdefault(plugin, [])
        for definition in result or ():
            if not isinstance(definition, SeriesDefinition):
                problems.append(f"udyog_series returned {type(definition).__name__}, not SeriesDefinition")
                continue
            pending.append((plugin, definition))
            registrants.setdefault(definition.key, []).append(plugin)
    refused: set[Any] = set()
    for key, plugins in registrants.items():
        if len(plugins) < 2:
            continue
        refused.add(key)
        names = sorted(set(plugins))
        if len(names) == 1:
            message = f"series key {key!r} is registered twice by {names[0]!r}"
        else:
            message = f"series key {key!r} is registered by both {' and '.join(repr(n) for n in names)}"
        # The plugin whose name the key starts with is its rightful owner: the
        # others are in the wrong, and so is the owner if it registers it twice.
        owner = str(key).split(".", 1)[0]
        culprits = set(plugins) - {owner}
        if plugins.count(owner) > 1:
            culprits.add(owner)
        for culprit in sorted(culprits):
            catalog.problems[culprit].append(message)
    accepted: dict[str, list[RegisteredSeries]] = {}
    for plugin, definition in pending:
        key = definition.key
        if key in refused and (plugin != str(key).split(".", 1)[0] or registrants[key].count(plugin) > 1):
            continue
        entry = _validate_definition(plugin, definition, catalog.problems[plugin])
        if entry is not None:
            accepted.setdefault(plugin, []).append(entry)
    for plugin, entries in accepted.items():
        if not catalog.problems.get(plugin):
            catalog.entries.update((e.key, e) for e in entries)
    catalog.problems = {p: items for p, items in catalog.problems.items() if items}
    return catalog


def _validate_definition(plugin: str, d: SeriesDefinition, problems: list[str]) -> RegisteredSeries | None:
    key = d.key
    before = len(problems)
    if not isinstance(key, str) or not KEY_RE.match(key) or len(key) > KEY_MAX_LENGTH:
        problems.append(f"series key {key!r} must look like {plugin}.<thing> (lower case, at most {KEY_MAX_LENGTH})")
        return None
    if key.split(".", 1)[0] != plugin:
        problems.append(f"series key {key!r} must start with the plugin's name: {plugin}.<thing>")
    if not (d.title or "").strip():
        problems.append(f"series {key}: a title is required")
    try:
        pattern = parse_pattern(d.default_pattern)
    except PatternError as exc:
        problems.extend(f"series {key}: default pattern {d.default_pattern!r} {p}" for p in exc.problems)
        return None
    except TypeError:
        problems.append(f"series {key}: the default pattern must be text")
        return None
    entry = RegisteredSeries(plugin, d, pattern)
    why = reset_problem(pattern, d.reset)
    if why:
        problems.append(f"series {key}: default pattern {d.default_pattern!r}: {why}")
    limit = entry.limit()
    if limit is not None:
        found = _limit_problems(limit)
        problems.extend(f"series {key}: {p}" for p in found)
        if not found and not pattern.has_branch:
            sample = pattern.render(pattern.largest_value, date(2025, 4, 1))
            problems.extend(
                f"series {key}: default pattern {d.default_pattern!r}: {p}"
                for p in _number_problems(sample, [limit], longest=True)
            )
    return entry if len(problems) == before else None


_CATALOGS: weakref.WeakKeyDictionary[Any, tuple[frozenset[str], SeriesCatalog]] = weakref.WeakKeyDictionary()
_CATALOG_LOCK = threading.Lock()


def series_catalog(kernel: Kernel) -> SeriesCatalog:
    """The kernel's series catalogue: ``udyog_series`` collected once, cached per set of loaded plugins.

    A plugin whose ``udyog_series`` raises has its failure recorded as a
    problem of that plugin, like an invalid registration.
    """
    loaded = kernel.bus.loaded
    cached = _CATALOGS.get(kernel)
    if cached is not None and cached[0] == loaded:
        return cached[1]
    contributions: list[tuple[str, Any]] = []
    failures: dict[str, list[str]] = {}
    for impl in kernel.pm.hook.udyog_series.get_hookimpls():
        try:
            contributions.append((impl.plugin_name, impl.function()))
        except Exception as exc:  # noqa: BLE001 - a plugin's bug is recorded against it
            failures[impl.plugin_name] = [f"udyog_series failed: {type(exc).__name__}: {exc}"]
    catalog = build_catalog(contributions)
    for plugin, items in failures.items():
        catalog.problems.setdefault(plugin, []).extend(items)
    with _CATALOG_LOCK:
        _CATALOGS[kernel] = (loaded, catalog)
    return catalog


def _registered(scope: TenantScope, key: str) -> RegisteredSeries:
    """The registration of ``key`` for the scope's tenant; 404 unless its plugin is enabled."""
    catalog = series_catalog(scope.kernel)
    entry = catalog.get(key)
    if entry is None:
        plugin = key.split(".", 1)[0] if isinstance(key, str) else ""
        if plugin in scope.tenant.enabled_plugins:
            catalog.check_plugin(plugin)
        # The key is not echoed: it is the caller's input, and may be anything.
        raise UdyogError(
            "number series not found",
            status=404,
            errors={"key": ["no such number series is registered by a plugin this tenant has enabled"]},
        )
    if entry.plugin not in scope.tenant.enabled_plugins:
        raise UdyogError(
            f"number series not found: plugin {entry.plugin!r} is not enabled for this tenant",
            status=404,
            errors={"key": [f"plugin {entry.plugin} is not enabled"]},
        )
    return entry


# -- seeding ---------------------------------------------------------------------------------


def _default_row(entry: RegisteredSeries) -> NumberSeries:
    d = entry.definition
    return NumberSeries(key=d.key, pattern=d.default_pattern, reset=d.reset, gap_free=d.gap_free)


def seed_series(kernel: Kernel, session: TenantSession, tenant: TenantContext, plugins: Iterable[str]) -> list[str]:
    """Give the tenant the default pattern of every series of ``plugins`` it does not have yet.

    Called when plugins are enabled for a tenant, in that transaction. A
    tenant that enables a plugin again keeps the patterns it set. Returns the
    keys seeded. Raises :class:`SeriesRegistrationError` for a plugin whose
    registrations were refused.
    """
    catalog = series_catalog(kernel)
    seeded: list[str] = []
    for plugin in plugins:
        catalog.check_plugin(plugin)
        entries = catalog.of_plugin(plugin)
        if not entries:
            continue
        keys = [e.key for e in entries]
        have = set(session.scalars(select(NumberSeries.key).where(NumberSeries.key.in_(keys))))
        for entry in entries:
            if entry.key not in have:
                session.add(_default_row(entry))
                seeded.append(entry.key)
    if seeded:
        session.flush()
    return seeded


# -- taking numbers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _SeriesState:
    id: Any
    key: str
    pattern: str
    reset: str
    gap_free: bool
    max_length: int | None
    allowed_chars: str | None
    version: int


_STATE_COLUMNS = (
    NumberSeries.id,
    NumberSeries.key,
    NumberSeries.pattern,
    NumberSeries.reset,
    NumberSeries.gap_free,
    NumberSeries.max_length,
    NumberSeries.allowed_chars,
    NumberSeries.version,
)


# The hot statements of taking a number run outside the ORM (kernel code, each
# filtering by tenant itself; row-level security still applies on PostgreSQL),
# prepared once per PostgreSQL connection: building, compiling and scoping ORM
# statements costs more Python than running them, and the counter row is
# locked from the increment to the commit.
_SERIES = NumberSeries.__table__
_COUNTER = SeriesCounter.__table__
_READ_SQL = select(*(_SERIES.c[c.key] for c in _STATE_COLUMNS)).where(
    _SERIES.c.tenant_id == bindparam("tenant_id"), _SERIES.c.key == bindparam("key")
)
_READ = PreparedStatement("udyog_series_read", _READ_SQL, {"tenant_id": Uuid(), "key": String()})
_READ_LOCKED = PreparedStatement(
    "udyog_series_read_locked",
    _READ_SQL.with_for_update(read=True, key_share=True),
    {"tenant_id": Uuid(), "key": String()},
)


def _read_state(session: TenantSession, key: str, *, lock: bool = False) -> _SeriesState | None:
    """The series' settings; with ``lock``, the row is locked ``FOR KEY SHARE`` (PostgreSQL).

    Columns, not the entity: a long-lived session's identity map could
    otherwise answer with settings read in an earlier transaction. The key
    share lock conflicts only with ``FOR UPDATE``, which a change of settings
    takes: takers in flight finish before the change, and a taker that waited
    for it reads the changed row (PostgreSQL re-reads a row it had to wait
    for), in the same round trip as the read itself.
    """
    statement = _READ_LOCKED if lock else _READ
    rows = statement.rows(session.connection(), {"tenant_id": _tenant_of(session), "key": key})
    return _SeriesState(*rows[0]) if rows else None


def _tenant_of(session: TenantSession) -> Any:
    tenant_id = session.tenant_id
    if tenant_id is None:
        raise TenantBoundaryError("number series are read in a session bound to a tenant")
    return tenant_id


def _ensure_state(session: TenantSession, entry: RegisteredSeries) -> _SeriesState:
    """The series' settings, the row locked ``FOR KEY SHARE``; created from the defaults if missing.

    A row goes missing when a plugin gains a series after the tenant enabled
    it; two transactions creating it at once are resolved by the unique key.
    """
    state = _read_state(session, entry.key, lock=True)
    if state is not None:
        return state
    session.flush()
    try:
        with session.begin_nested():
            session.add(row := _default_row(entry))
        session.expunge(row)
    except IntegrityError:
        pass  # created meanwhile by another transaction: read theirs
    state = _read_state(session, entry.key, lock=True)
    if state is None:  # pragma: no cover - the unique key guarantees a row by now
        raise RuntimeError(f"series {entry.key} could not be created")
    return state


def _require_writing(session: TenantSession) -> None:
    bind = session.get_bind()
    if not bind.get_execution_options().get("udyog_write"):
        raise RuntimeError(
            "numbers are taken in a writing session (a write request, or kernel.tenant_scope(write=True)); "
            "this session only reads"
        )


def _branch_code(session: TenantSession, key: str, branch: str | None) -> str:
    if not branch:
        raise UdyogError(
            f"series {key} is numbered per branch: name the branch",
            status=422,
            errors={"branch": ["required: the series' pattern has {BRANCH}"]},
        )
    found = session.execute(select(Branch.code, Branch.is_active).where(Branch.code == branch)).first()
    if found is None:
        raise UdyogError("unknown branch", status=422, errors={"branch": [f"no branch {branch!r}"]})
    if not found.is_active:
        raise UdyogError("inactive branch", status=422, errors={"branch": [f"branch {branch!r} is inactive"]})
    return str(found.code)


def series_limits(
    relay: HookRelay, entry: RegisteredSeries, max_length: int | None, allowed: str | None
) -> list[Limit]:
    """Every limit in force on a series: the registering plugin's, the tenant's own, other plugins' constraints.

    All must hold, so the tightest wins.
    """
    limits: list[Limit] = []
    own = entry.limit()
    if own is not None:
        limits.append(own)
    if max_length is not None or allowed is not None:
        limits.append(Limit("series", "this series' own limit", max_length, allowed))
    limits.extend(constraints_for(relay, entry.key))
    return limits


def _number_problems(number: str, limits: Sequence[Limit], *, longest: bool = False) -> list[str]:
    """What ``number`` breaks among ``limits`` (length and characters), each with the limit's reason."""
    problems: list[str] = []
    what = f"the longest number, {number}," if longest else f"number {number}"
    for limit in limits:
        if limit.max_length is not None and len(number) > limit.max_length:
            problems.append(
                f"{what} has {len(number)} characters; at most {limit.max_length} are allowed ({limit.reason})"
            )
        if limit.allowed_chars is not None:
            bad = sorted(set(number) - parse_charset(limit.allowed_chars))
            if bad:
                problems.append(f"{_quote_chars(bad)} not allowed in {what.rstrip(',')} ({limit.reason})")
    return problems


def _quote_chars(chars: Sequence[str]) -> str:
    shown = ", ".join(repr(c) for c in chars)
    return f"character {shown} is" if len(chars) == 1 else f"characters {shown} are"


def _reset_problems(reset: str, limits: Sequence[Limit]) -> list[str]:
    return [
        f"reset {reset} is not allowed; allowed: {', '.join(limit.resets)} ({limit.reason})"
        for limit in limits
        if limit.resets is not None and reset not in limit.resets
    ]


_INCREMENT = PreparedStatement(
    "udyog_series_increment",
    update(_COUNTER)
    .where(
        _COUNTER.c.tenant_id == bindparam("p_tenant_id"),
        _COUNTER.c.series_id == bindparam("p_series_id"),
        _COUNTER.c.period == bindparam("p_period"),
        _COUNTER.c.branch == bindparam("p_branch"),
    )
    .values(value=_COUNTER.c.value + bindparam("p_by", type_=BigInteger()))
    .returning(_COUNTER.c.value),
    {"p_tenant_id": Uuid(), "p_series_id": Uuid(), "p_period": String(), "p_branch": String(), "p_by": BigInteger()},
)


def _increment(session: TenantSession, series_id: Any, period: str, branch: str, by: int = 1) -> int | None:
    params = {
        "p_tenant_id": _tenant_of(session),
        "p_series_id": series_id,
        "p_period": period,
        "p_branch": branch,
        "p_by": by,
    }
    rows = _INCREMENT.rows(session.connection(), params)
    return int(rows[0][0]) if rows else None


def _take(session: TenantSession, series_id: Any, period: str, branch: str) -> int:
    """Increment the counter ``(series, period, branch)`` in the session's transaction; its new value.

    The counter row stays locked until the transaction ends. A missing
    counter is inserted in a SAVEPOINT; if a concurrent transaction inserted
    it first, the insert fails on the unique key and we increment theirs,
    waiting for their lock as any other taker does.
    """
    attempts = 3
    for attempt in range(attempts):
        value = _increment(session, series_id, period, branch)
        if value is not None:
            return value
        session.flush()  # the caller's pending rows, outside our savepoint
        counter = SeriesCounter(series_id=series_id, period=period, branch=branch, value=1)
        try:
            with session.begin_nested():
                session.add(counter)
        except IntegrityError:
            if attempt == attempts - 1:
                raise
            continue
        session.expunge(counter)
        return 1
    raise RuntimeError("unreachable")  # pragma: no cover


def next_number(scope: TenantScope, key: str, *, branch: str | None = None, on: date | None = None) -> str:
    """Take the next number of series ``key`` in the scope's transaction, as late in it as you can.

    ``branch`` is a branch code; it matters when the pattern has
    ``{BRANCH}`` (each branch then has its own counter) and is required then.
    ``on`` is the document date (a ``date``, or an aware ``datetime``
    converted to the tenant's timezone); by default today in the tenant's
    timezone. It decides the date tokens and the reset period.

    The number belongs to the caller's transaction: a rollback gives it
    back. Numbers that would break a limit in force (a length or character
    rule, an allowed reset) are refused with 409 and nothing is taken.
    """
    session = scope.session
    entry = _registered(scope, key)
    _require_writing(session)
    if session.autoflush:  # the caller's pending rows first (the statements below do not autoflush)
        session.flush()
    state = _ensure_state(session, entry)
    try:
        pattern = parse_pattern(state.pattern)
    except PatternError as exc:
        raise _refusal(key, [f"its pattern {state.pattern!r} {p}" for p in exc.problems]) from None
    limits = series_limits(scope.hooks, entry, state.max_length, state.allowed_chars)
    problems = _reset_problems(state.reset, limits)
    why = reset_problem(pattern, state.reset) if state.reset in RESETS else f"unknown reset {state.reset!r}"
    if why:
        problems.append(why)
    if problems:
        raise _refusal(key, problems)
    day = document_date(scope.tenant.timezone, on)
    branch_key = _branch_code(session, key, branch) if pattern.has_branch else ""
    period = period_key(state.reset, day)
    value = _take(session, state.id, period, branch_key)
    # From here to the caller's commit the counter is locked: only rendering and checking the number.
    number = pattern.render(value, day, branch_key)
    problems = _number_problems(number, limits)
    if problems:
        _increment(session, state.id, period, branch_key, by=-1)  # still locked by us: give it back
        raise _refusal(key, problems)
    return number


def _refusal(key: str, problems: list[str]) -> UdyogError:
    return UdyogError(
        f"series {key} cannot issue a number until its settings are fixed: {'; '.join(problems)}",
        status=409,
        errors={"series": problems},
    )


# -- settings, previews and listings ---------------------------------------------------------------


class _Keep:
    """Marks a setting the caller leaves as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


@dataclass(frozen=True)
class Compliance:
    """The result of checking series settings: problems by field, and the longest number."""

    errors: dict[str, list[str]]
    longest: str | None

    @property
    def ok(self) -> bool:
        """Whether the settings break nothing."""
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the API."""
        return {
            "ok": self.ok,
            "errors": self.errors,
            "longest": self.longest,
            "length": len(self.longest) if self.longest is not None else None,
        }


def check_settings(
    pattern_text: str,
    reset: str,
    limits: Sequence[Limit],
    branch_codes: Sequence[str],
    today: date,
) -> Compliance:
    """Check a pattern and reset period against ``limits`` before they are saved.

    The length check renders the longest number the pattern allows: the
    largest counter its ``{seq:0N}`` holds (``{seq:04}``: 9999), and for
    ``{BRANCH}`` the longest of ``branch_codes`` (the tenant's active
    branches), or a code of the longest possible length (16) when there are
    none. Character checks cover the literal text, digits, the ``-`` of
    ``{FY}``/``{FY_SHORT}`` and every branch code.
    """
    errors: dict[str, list[str]] = {}
    try:
        pattern = parse_pattern(pattern_text)
    except PatternError as exc:
        return Compliance({"pattern": list(exc.problems)}, None)
    if reset not in RESETS:
        errors.setdefault("reset", []).append(f"must be one of {', '.join(RESETS)}")
    else:
        why = reset_problem(pattern, reset)
        if why:
            errors.setdefault("pattern", []).append(why)
        errors.setdefault("reset", []).extend(_reset_problems(reset, limits))
    branch = max(branch_codes, key=len) if branch_codes else "B" * BRANCH_CODE_MAX_LENGTH
    longest = pattern.render(pattern.largest_value, today, branch if pattern.has_branch else "")
    pattern_problems = []
    for limit in limits:
        if limit.max_length is not None and len(longest) > limit.max_length:
            extra = "" if branch_codes or not pattern.has_branch else " with a 16-character branch code"
            pattern_problems.append(
                f"the longest number, {longest}{extra}, has {len(longest)} characters; "
                f"at most {limit.max_length} are allowed ({limit.reason})"
            )
        if limit.allowed_chars is not None:
            bad = sorted(pattern.characters(branch_codes) - parse_charset(limit.allowed_chars))
            if bad:
                pattern_problems.append(f"{_quote_chars(bad)} not allowed in the numbers ({limit.reason})")
    errors.setdefault("pattern", []).extend(pattern_problems)
    return Compliance({k: v for k, v in errors.items() if v}, longest)


def _active_branch_codes(session: TenantSession) -> list[str]:
    return list(session.scalars(select(Branch.code).where(Branch.is_active.is_(True)).order_by(Branch.code)))


def _settings_errors(max_length: Any, allowed_chars: Any) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or not 1 <= max_length <= MAX_LENGTH_LIMIT
    ):
        errors["max_length"] = [f"a whole number from 1 to {MAX_LENGTH_LIMIT}, or null for no limit of its own"]
    if allowed_chars is not None:
        if not isinstance(allowed_chars, str) or not allowed_chars:
            errors["allowed_chars"] = ["name at least one character (ranges a-z, A-Z, 0-9), or null for no limit"]
        elif len(allowed_chars) > ALLOWED_CHARS_MAX_LENGTH:
            errors["allowed_chars"] = [f"at most {ALLOWED_CHARS_MAX_LENGTH} characters"]
    return errors


def _continuation(session: TenantSession, series_id: Any, reset: str, pattern: Pattern, today: date) -> dict[str, int]:
    """Where counters of the current period must start after a change of the reset period.

    Counters of another kind (kept from the old reset) that cover part of the
    current period may have issued numbers this period; the new counter
    continues from the highest of them, per branch, so no number repeats.
    Later periods start at 1.
    """
    current = period_key(reset, today)
    lo, hi = period_range(current)
    start: dict[str, int] = {}
    counters = session.execute(
        select(SeriesCounter.period, SeriesCounter.branch, SeriesCounter.value).where(
            SeriesCounter.series_id == series_id
        )
    ).all()
    for period, branch, value in counters:
        if period == current or value <= 0 or period[:1] == current[:1]:
            continue  # the same kind of period never overlaps another of its kind
        first, after = period_range(period)
        if first >= hi or after <= lo:
            continue
        if pattern.has_branch and not branch:
            continue  # numbers without a branch code cannot equal numbers with one
        target = branch if pattern.has_branch else ""
        start[target] = max(start.get(target, 0), value)
    return start


def _counter_value(session: TenantSession, series_id: Any, period: str, branch: str) -> int:
    value = session.scalar(
        select(SeriesCounter.value).where(
            SeriesCounter.series_id == series_id, SeriesCounter.period == period, SeriesCounter.branch == branch
        )
    )
    return int(value or 0)


def _preview_number(
    session: TenantSession,
    state: _SeriesState | None,
    pattern_text: str,
    reset: str,
    today: date,
    branch: str | None,
    branch_codes: Sequence[str],
) -> str | None:
    """The number the next taker would get with these settings (nothing is taken or locked)."""
    try:
        pattern = parse_pattern(pattern_text)
    except PatternError:
        return None
    if reset not in RESETS:
        return None
    code = ""
    if pattern.has_branch:
        code = branch if branch else (branch_codes[0] if branch_codes else "")
        if not code:
            return None
    if state is None:
        return pattern.render(1, today, code)
    period = period_key(reset, today)
    value = _counter_value(session, state.id, period, code)
    if reset != state.reset:
        value = max(value, _continuation(session, state.id, reset, pattern, today).get(code, 0))
    return pattern.render(value + 1, today, code)


def describe(
    scope: TenantScope, entry: RegisteredSeries, state: _SeriesState | None, branch_codes: Sequence[str]
) -> dict[str, Any]:
    """One series as the API and the CLI show it: settings, limits in force, compliance, next number."""
    d = entry.definition
    pattern = state.pattern if state else d.default_pattern
    reset = state.reset if state else d.reset
    max_length = state.max_length if state else None
    allowed = state.allowed_chars if state else None
    limits = series_limits(scope.hooks, entry, max_length, allowed)
    today = tenant_today(scope.tenant.timezone)
    compliance = check_settings(pattern, reset, limits, branch_codes, today)
    resets = [r for r in RESETS if not _reset_problems(r, limits)]
    return {
        "key": entry.key,
        "title": d.title,
        "plugin": entry.plugin,
        "pattern": pattern,
        "default_pattern": d.default_pattern,
        "reset": reset,
        "gap_free": state.gap_free if state else d.gap_free,
        "gap_free_required": d.gap_free,
        "max_length": max_length,
        "allowed_chars": allowed,
        "version": state.version if state else 0,
        "constraints": [limit.as_dict() for limit in limits if limit.source != "series"],
        "effective_max_length": min((lim.max_length for lim in limits if lim.max_length is not None), default=None),
        "resets_allowed": resets,
        "compliance": compliance.as_dict(),
        "next_number": _preview_number(scope.session, state, pattern, reset, today, None, branch_codes),
    }


def list_series(scope: TenantScope) -> list[dict[str, Any]]:
    """The tenant's series (those of its enabled plugins), by key, without taking or writing anything."""
    catalog = series_catalog(scope.kernel)
    session = scope.session
    entries = [e for e in catalog.entries.values() if e.plugin in scope.tenant.enabled_plugins]
    entries.sort(key=lambda e: e.key)
    states: dict[str, _SeriesState] = {}
    if entries:
        query = select(*_STATE_COLUMNS).where(NumberSeries.key.in_([e.key for e in entries]))
        states = {row.key: _SeriesState(*row) for row in session.execute(query)}
    codes = _active_branch_codes(session)
    return [describe(scope, entry, states.get(entry.key), codes) for entry in entries]


def get_series(scope: TenantScope, key: str) -> dict[str, Any]:
    """One series of the tenant, as :func:`list_series` shows it (404 if unknown or its plugin is off)."""
    entry = _registered(scope, key)
    state = _read_state(scope.session, key)
    return describe(scope, entry, state, _active_branch_codes(scope.session))


def preview(
    scope: TenantScope,
    key: str,
    *,
    pattern: str | None = None,
    reset: str | None = None,
    max_length: Any = KEEP,
    allowed_chars: Any = KEEP,
    branch: str | None = None,
) -> dict[str, Any]:
    """Render the next number for proposed settings without saving or taking anything.

    Unset arguments keep the stored settings. The result carries the
    compliance check a save would run (``ok``, ``errors`` by field, the
    longest number) and the number the next taker would get.
    """
    entry = _registered(scope, key)
    session = scope.session
    state = _read_state(session, key)
    d = entry.definition
    pattern_text = pattern if pattern is not None else (state.pattern if state else d.default_pattern)
    new_reset = reset if reset is not None else (state.reset if state else d.reset)
    own_max = max_length if max_length is not KEEP else (state.max_length if state else None)
    own_chars = allowed_chars if allowed_chars is not KEEP else (state.allowed_chars if state else None)
    errors = _settings_errors(own_max, own_chars)
    if errors:
        return {
            "key": key,
            "pattern": pattern_text,
            "reset": new_reset,
            "number": None,
            "compliance": Compliance(errors, None).as_dict(),
        }
    codes = _active_branch_codes(session)
    if branch is not None and branch not in codes:
        raise UdyogError("unknown branch", status=422, errors={"branch": [f"no active branch {branch!r}"]})
    limits = series_limits(scope.hooks, entry, own_max, own_chars)
    today = tenant_today(scope.tenant.timezone)
    compliance = check_settings(pattern_text, new_reset, limits, codes, today)
    number = _preview_number(session, state, pattern_text, new_reset, today, branch, codes)
    return {
        "key": key,
        "pattern": pattern_text,
        "reset": new_reset,
        "number": number,
        "compliance": compliance.as_dict(),
    }


def set_series(
    scope: TenantScope,
    key: str,
    *,
    pattern: Any = KEEP,
    reset: Any = KEEP,
    gap_free: Any = KEEP,
    max_length: Any = KEEP,
    allowed_chars: Any = KEEP,
    version: int | None = None,
) -> dict[str, Any]:
    """Change a tenant's series settings, checked as :func:`check_settings` does; the caller commits.

    Arguments left as :data:`KEEP` keep their stored value. ``version`` is
    the version the caller read (optimistic locking): a different one
    answers 409; ``None`` skips the check (the CLI). Invalid settings answer
    422 with errors by field, each naming the reason. The series row is
    locked ``FOR UPDATE`` first, so transactions taking numbers finish before
    the change and later ones see it. When the reset period changes, the
    current period's counter continues from the numbers already issued in it.
    Returns the series as :func:`get_series` shows it.
    """
    entry = _registered(scope, key)
    session = scope.session
    d = entry.definition
    row = session.scalar(
        select(NumberSeries).where(NumberSeries.key == key).with_for_update().execution_options(populate_existing=True)
    )
    if version is not None:
        current = row.version if row is not None else 0
        if version != current:
            raise UdyogError(
                "the series changed since you read it: reload it and apply your change again",
                status=409,
                errors={"version": [f"is {current} now, you sent {version}"]},
            )
    old_reset = row.reset if row is not None else d.reset
    new = {
        "pattern": pattern if pattern is not KEEP else (row.pattern if row else d.default_pattern),
        "reset": reset if reset is not KEEP else old_reset,
        "gap_free": gap_free if gap_free is not KEEP else (row.gap_free if row else d.gap_free),
        "max_length": max_length if max_length is not KEEP else (row.max_length if row else None),
        "allowed_chars": allowed_chars if allowed_chars is not KEEP else (row.allowed_chars if row else None),
    }
    errors = _settings_errors(new["max_length"], new["allowed_chars"])
    if not isinstance(new["pattern"], str):
        errors["pattern"] = ["must be text"]
    if not isinstance(new["gap_free"], bool):
        errors["gap_free"] = ["must be true or false"]
    elif d.gap_free and not new["gap_free"]:
        errors["gap_free"] = [f"{entry.plugin} requires {d.title} numbers to be gap-free"]
    if not errors:
        limits = series_limits(scope.hooks, entry, new["max_length"], new["allowed_chars"])
        today = tenant_today(scope.tenant.timezone)
        compliance = check_settings(new["pattern"], new["reset"], limits, _active_branch_codes(session), today)
        errors.update(compliance.errors)
    if errors:
        raise UdyogError(f"invalid settings for series {key}", status=422, errors=errors)
    if row is None:
        row = _default_row(entry)
        session.add(row)
    for name, value in new.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
    try:
        session.flush()
    except StaleDataError:
        raise UdyogError(
            "the series changed since you read it: reload it and apply your change again",
            status=409,
            errors={"version": ["changed by someone else"]},
        ) from None
    if new["reset"] != old_reset:
        today = tenant_today(scope.tenant.timezone)
        _continue_counters(session, row.id, new["reset"], parse_pattern(new["pattern"]), today)
    return get_series(scope, key)


def _continue_counters(session: TenantSession, series_id: Any, reset: str, pattern: Pattern, today: date) -> None:
    period = period_key(reset, today)
    for branch, value in _continuation(session, series_id, reset, pattern, today).items():
        counter = session.scalar(
            select(SeriesCounter)
            .where(SeriesCounter.series_id == series_id, SeriesCounter.period == period, SeriesCounter.branch == branch)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if counter is None:
            session.add(SeriesCounter(series_id=series_id, period=period, branch=branch, value=value))
        elif counter.value < value:
            counter.value = value
    session.flush()


def catalog_problems(kernel: Kernel) -> dict[str, list[str]]:
    """Refused series registrations by plugin (shown by ``udyog series list``)."""
    return dict(series_catalog(kernel).problems)


__all__ = [
    "KEEP",
    "Compliance",
    "Limit",
    "Pattern",
    "PatternError",
    "RegisteredSeries",
    "SeriesCatalog",
    "SeriesRegistrationError",
    "build_catalog",
    "catalog_problems",
    "check_settings",
    "constraints_for",
    "date_token",
    "document_date",
    "fy_start",
    "get_series",
    "list_series",
    "next_number",
    "parse_charset",
    "parse_pattern",
    "period_key",
    "period_range",
    "preview",
    "reset_problem",
    "seed_series",
    "series_limits",
    "set_series",
    "tenant_today",
]
