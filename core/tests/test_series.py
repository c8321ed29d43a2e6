"""Number series: patterns and tokens, reset periods in the tenant's timezone, checks when a
pattern is saved, constraints from other plugins, gap-free numbering under concurrency, API and CLI."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, update
from udyog_test_notes.models import Notebook

import udyog.series as series
from udyog.app import create_app
from udyog.models import Branch, NumberSeries, SeriesCounter
from udyog.series import (
    KEEP,
    PatternError,
    SeriesRegistrationError,
    build_catalog,
    constraints_for,
    document_date,
    list_series,
    parse_charset,
    parse_pattern,
    period_key,
    period_range,
    preview,
    reset_problem,
    set_series,
)
from udyog.tenancy import create_branch, create_tenant, disable_plugins, enable_plugins
from udyog.testing import create_member, login
from udyog_sdk import UdyogError, hookimpl
from udyog_sdk.runtime import NoScopeError
from udyog_sdk.series import SeriesConstraint, SeriesDefinition, next_number

GST_CHARS = "A-Za-z0-9/-"


def at(when: str) -> datetime:
    """An aware UTC moment from ISO text."""
    return datetime.fromisoformat(when).replace(tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    """Moves the clock the series read 'today' from: ``clock("2026-03-31T20:00")`` (UTC)."""

    def set_now(when: str) -> None:
        monkeypatch.setattr(series, "_now", lambda: at(when))

    set_now("2026-05-10T06:00")
    return set_now


@pytest.fixture
def world(kernel_factory, backend, clock):
    """Tenants: ``plain`` (notes only), ``both`` (notes and tags, whose constraints apply), ``utc``."""
    kernel = kernel_factory(["notes", "tags"], backend=backend)
    create_tenant(kernel, "plain", "Plain", plugins=["notes"])
    create_tenant(kernel, "both", "Both", plugins=["tags"])
    create_tenant(kernel, "utc", "UTC Ltd", plugins=["notes"], timezone="UTC")
    return kernel


def take(kernel, slug, key="notes.note", **kwargs):
    """Take one number in its own committed transaction."""
    with kernel.tenant_scope(slug) as scope:
        number = scope.next_number(key, **kwargs)
        scope.session.commit()
    return number


def configure(kernel, slug, key, **changes):
    with kernel.tenant_scope(slug) as scope:
        result = set_series(scope, key, **changes)
        scope.session.commit()
    return result


def refused(kernel, slug, key, **changes) -> dict[str, list[str]]:
    with kernel.tenant_scope(slug) as scope, pytest.raises(UdyogError) as info:
        set_series(scope, key, **changes)
    assert info.value.status == 422
    return info.value.errors


def counters(kernel, slug):
    with kernel.tenant_scope(slug, write=False) as scope:
        rows = scope.session.execute(
            select(NumberSeries.key, SeriesCounter.period, SeriesCounter.branch, SeriesCounter.value).join(
                NumberSeries, NumberSeries.id == SeriesCounter.series_id
            )
        )
        return {(key, period, branch): value for key, period, branch, value in rows}


# -- patterns, tokens, periods (pure) ---------------------------------------------------------------


def test_every_token_renders():
    pattern = parse_pattern("X{YYYY}.{YY}.{MM}|{FY}|{FY_SHORT}|{BRANCH}|{seq:05}-lit/")
    assert pattern.render(42, date(2026, 4, 1), "PUNE") == "X2026.26.04|2026-27|26-27|PUNE|00042-lit/"
    assert pattern.render(42, date(2026, 3, 31), "PUNE") == "X2026.26.03|2025-26|25-26|PUNE|00042-lit/"
    assert pattern.seq_width == 5 and pattern.largest_value == 99999 and pattern.has_branch
    assert parse_pattern("{seq:01}").render(7, date(2026, 1, 1)) == "7"
    assert parse_pattern("A{seq:018}").largest_value == 10**18 - 1
    # The century turns inside a financial year too.
    assert parse_pattern("{FY}{FY_SHORT}{seq:01}").render(1, date(2100, 2, 1)) == "2099-0099-001"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("INV/{FY}", "needs exactly one {seq:0N} token"),
        ("{seq:04}/{seq:02}", "has 2 {seq:0N} tokens; exactly one is allowed"),
        ("INV/{YEAR}/{seq:04}", "unknown token {YEAR}"),
        ("INV/{fy}/{seq:04}", "unknown token {fy}"),
        ("INV/{seq}", "write the sequence as {seq:0N}"),
        ("INV/{seq:4}", "write the sequence as {seq:0N}"),
        ("INV/{seq:019}", "write the sequence as {seq:0N}"),
        ("INV/{seq:00}", "write the sequence as {seq:0N}"),
        ("INV/{FY/{seq:04}", "is not closed"),
        ("INV}/{seq:04}", "closes no token"),
        ("INV\t{seq:04}", "must be printable"),
        ("", "must not be empty"),
        ("X" * 121 + "{seq:04}", "a pattern has at most 120"),
    ],
)
def test_pattern_errors_say_what_is_wrong(text, message):
    with pytest.raises(PatternError) as info:
        parse_pattern(text)
    assert any(message in problem for problem in info.value.problems), info.value.problems


def test_financial_year_turns_on_1_april():
    assert period_key("financial_year", date(2026, 3, 31)) == "FY2025-26"
    assert period_key("financial_year", date(2026, 4, 1)) == "FY2026-27"
    assert period_key("yearly", date(2025, 12, 31)) == "Y2025"
    assert period_key("yearly", date(2026, 1, 1)) == "Y2026"
    assert period_key("monthly", date(2024, 2, 29)) == "M2024-02"
    assert period_key("monthly", date(2024, 3, 1)) == "M2024-03"
    assert period_key("never", date(2026, 1, 1)) == ""
    assert period_range("FY2025-26") == (date(2025, 4, 1), date(2026, 4, 1))
    assert period_range("M2026-12") == (date(2026, 12, 1), date(2027, 1, 1))
    assert period_range("Y2026") == (date(2026, 1, 1), date(2027, 1, 1))
    assert period_range("") == (date.min, date.max)


def test_the_date_is_decided_in_the_tenants_timezone():
    moment = at("2026-03-31T20:00")  # 01:30 on 1 April in India
    assert document_date("Asia/Kolkata", moment) == date(2026, 4, 1)
    assert document_date("UTC", moment) == date(2026, 3, 31)
    assert document_date("Asia/Kolkata", date(2026, 3, 31)) == date(2026, 3, 31)
    with pytest.raises(ValueError, match="naive"):
        document_date("Asia/Kolkata", datetime(2026, 3, 31, 20))


def test_a_reset_needs_its_period_in_the_pattern_or_numbers_would_repeat():
    assert reset_problem(parse_pattern("INV/{seq:04}"), "never") is None
    assert "yearly reset needs the year" in reset_problem(parse_pattern("INV/{FY}/{seq:04}"), "yearly")
    assert reset_problem(parse_pattern("INV/{FY}{MM}/{seq:04}"), "yearly") is None
    assert "financial-year reset" in reset_problem(parse_pattern("INV/{YYYY}/{seq:04}"), "financial_year")
    assert reset_problem(parse_pattern("INV/{YY}{MM}/{seq:04}"), "financial_year") is None
    assert "monthly reset" in reset_problem(parse_pattern("INV/{MM}/{seq:04}"), "monthly")
    assert reset_problem(parse_pattern("INV/{FY_SHORT}/{MM}/{seq:04}"), "monthly") is None


def test_allowed_characters_take_ranges_and_a_literal_dash():
    gst = parse_charset(GST_CHARS)
    assert {"A", "Z", "a", "z", "0", "9", "/", "-"} <= gst
    assert "_" not in gst and " " not in gst and len(gst) == 64
    assert parse_charset("-a-c") == frozenset("-abc")
    assert parse_charset("z-a") == frozenset("z-a")  # not a range: three literal characters
    with pytest.raises(ValueError):
        parse_charset("")


# -- registration ------------------------------------------------------------------------------------


def test_registrations_are_validated_and_a_bad_plugin_keeps_none():
    catalog = build_catalog(
        [
            ("sales", [SeriesDefinition("sales.invoice", "Invoice", "INV/{FY}/{seq:04}", reset="financial_year")]),
            (
                "gst",
                [
                    SeriesDefinition("sales.invoice", "Invoice", "G/{seq:04}"),
                    SeriesDefinition("sales.credit_note", "Credit note", "CN/{seq:04}"),
                    SeriesDefinition("gst.x", "X", "{seq:02}"),
                ],
            ),
            ("bad", [SeriesDefinition("Bad Key", "B", "{seq:02}"), "not a definition"]),
            ("late", [SeriesDefinition("late.a", "A", "A/{seq:04}", reset="yearly")]),
            ("twice", [SeriesDefinition("twice.a", "A", "{seq:02}"), SeriesDefinition("twice.a", "A", "{seq:03}")]),
            ("tight", [SeriesDefinition("tight.a", "A", "AAAA/{seq:04}", max_length=8, allowed_chars="A-Z0-9")]),
            ("fine", [SeriesDefinition("fine.a", "A", "A/{FY_SHORT}/{seq:04}", reset="financial_year")]),
        ]
    )
    assert set(catalog.entries) == {"sales.invoice", "fine.a"}
    assert catalog.get("sales.invoice").plugin == "sales"
    problems = catalog.problems
    assert "series key 'sales.invoice' is registered by both 'gst' and 'sales'" in problems["gst"]
    assert "sales" not in problems  # the rightful owner keeps its series
    assert "series key 'sales.credit_note' must start with the plugin's name: gst.<thing>" in problems["gst"]
    assert any("'Bad Key' must look like bad.<thing>" in p for p in problems["bad"])
    assert any("returned str, not SeriesDefinition" in p for p in problems["bad"])
    assert any("yearly reset needs the year" in p for p in problems["late"])
    assert "series key 'twice.a' is registered twice by 'twice'" in problems["twice"]
    assert any("has 9 characters; at most 8" in p for p in problems["tight"])
    assert any("'/' is not allowed" in p for p in problems["tight"])
    with pytest.raises(SeriesRegistrationError, match=r"gst: series key 'sales\.invoice' is registered by both"):
        catalog.check_plugin("gst")
    catalog.check_plugin("fine")
    with pytest.raises(ValueError, match="reset must be one of"):
        SeriesDefinition("x.y", "Y", "{seq:02}", reset="weekly")


def test_enabling_a_plugin_seeds_its_series_once_and_keeps_the_tenants_pattern(world):
    kernel = world
    with kernel.tenant_scope("plain", write=False) as scope:
        items = {item["key"]: item for item in list_series(scope)}
    assert items["notes.note"]["pattern"] == "NOTE/{FY}/{seq:04}"
    assert items["notes.note"]["reset"] == "financial_year" and items["notes.note"]["gap_free"] is True
    assert items["notes.notebook"]["pattern"] == "NB-{seq:03}" and items["notes.notebook"]["version"] == 1
    configure(kernel, "plain", "notes.notebook", pattern="BOOK-{seq:04}")
    disable_plugins(kernel, "plain", ["notes"])
    with kernel.tenant_scope("plain") as scope, pytest.raises(UdyogError) as info:
        scope.next_number("notes.notebook")
    assert info.value.status == 404  # a disabled plugin's series are out of reach
    enable_plugins(kernel, "plain", ["notes"])
    assert take(kernel, "plain", "notes.notebook") == "BOOK-0001"


def test_a_series_row_missing_is_created_with_the_defaults_when_a_number_is_taken(world):
    kernel = world
    with kernel.tenant_scope("plain") as scope:
        scope.session.execute(delete(NumberSeries).where(NumberSeries.key == "notes.notebook"))
        scope.session.commit()
    assert take(kernel, "plain", "notes.notebook") == "NB-001"
    assert take(kernel, "plain", "notes.notebook") == "NB-002"


def test_unknown_keys_answer_404(world):
    with world.tenant_scope("plain") as scope, pytest.raises(UdyogError) as info:
        scope.next_number("notes.nothing")
    assert info.value.status == 404


# -- taking numbers ------------------------------------------------------------------------------------


def test_financial_year_reset_across_31_march(world):
    kernel = world
    assert take(kernel, "plain", on=date(2026, 3, 30)) == "NOTE/2025-26/0001"
    assert take(kernel, "plain", on=date(2026, 3, 31)) == "NOTE/2025-26/0002"
    assert take(kernel, "plain", on=date(2026, 4, 1)) == "NOTE/2026-27/0001"
    assert take(kernel, "plain", on=date(2026, 3, 31)) == "NOTE/2025-26/0003"  # back-dated: its own year
    assert take(kernel, "plain", on=date(2027, 3, 31)) == "NOTE/2026-27/0002"


def test_yearly_reset_across_new_year(world):
    kernel = world
    configure(kernel, "plain", "notes.notebook", pattern="NB/{YYYY}/{seq:03}", reset="yearly")
    assert take(kernel, "plain", "notes.notebook", on=date(2025, 12, 31)) == "NB/2025/001"
    assert take(kernel, "plain", "notes.notebook", on=date(2025, 12, 31)) == "NB/2025/002"
    assert take(kernel, "plain", "notes.notebook", on=date(2026, 1, 1)) == "NB/2026/001"


def test_monthly_reset_across_month_ends(world):
    kernel = world
    configure(kernel, "plain", "notes.notebook", pattern="NB/{YY}{MM}/{seq:03}", reset="monthly")
    days = [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1), date(2025, 12, 31), date(2026, 1, 1)]
    assert [take(kernel, "plain", "notes.notebook", on=d) for d in days] == [
        "NB/2402/001",
        "NB/2402/002",
        "NB/2403/001",
        "NB/2512/001",
        "NB/2601/001",
    ]


def test_never_reset_keeps_counting(world):
    kernel = world
    configure(kernel, "plain", "notes.notebook", pattern="NB/{YYYY}/{seq:03}")
    numbers = [take(kernel, "plain", "notes.notebook", on=d) for d in (date(2025, 12, 31), date(2026, 1, 1))]
    assert numbers == ["NB/2025/001", "NB/2026/002"]


def test_the_tenants_timezone_decides_today_at_a_utc_day_boundary(world, clock):
    kernel = world
    clock("2026-03-31T20:00")  # already 1 April (01:30) in Asia/Kolkata
    assert take(kernel, "plain") == "NOTE/2026-27/0001"
    assert take(kernel, "utc") == "NOTE/2025-26/0001"
    assert take(kernel, "plain", on=at("2026-03-31T18:29")) == "NOTE/2025-26/0001"  # 23:59 IST
    assert take(kernel, "plain", on=at("2026-03-31T18:30")) == "NOTE/2026-27/0002"  # 00:00 IST


def test_branch_counters_are_separate(world):
    kernel = world
    with kernel.tenant_scope("plain") as scope:
        for code in ("PUNE", "NASHIK", "OLD"):
            create_branch(scope.session, code=code, name=code.title())
        scope.session.execute(update(Branch).where(Branch.code == "OLD").values(is_active=False))
        scope.session.commit()
    configure(kernel, "plain", "notes.note", pattern="{BRANCH}/{FY_SHORT}/{seq:03}")
    assert take(kernel, "plain", branch="PUNE") == "PUNE/26-27/001"
    assert take(kernel, "plain", branch="PUNE") == "PUNE/26-27/002"
    assert take(kernel, "plain", branch="NASHIK") == "NASHIK/26-27/001"
    for branch, message in ((None, "required"), ("GOA", "no branch 'GOA'"), ("OLD", "inactive")):
        with kernel.tenant_scope("plain") as scope, pytest.raises(UdyogError) as info:
            scope.next_number("notes.note", branch=branch)
        assert info.value.status == 422 and message in info.value.errors["branch"][0]
    # Without {BRANCH} the branch does not matter: one counter for all.
    assert take(kernel, "plain", "notes.notebook", branch="PUNE") == "NB-001"
    assert take(kernel, "plain", "notes.notebook", branch="NASHIK") == "NB-002"
    assert counters(kernel, "plain")[("notes.note", "FY2026-27", "PUNE")] == 2


def test_the_sdk_accessor_uses_the_current_scope(world):
    with world.tenant_scope("plain") as scope:
        assert next_number("notes.notebook") == "NB-001"
        assert scope.next_number("notes.notebook") == "NB-002"
    with pytest.raises(NoScopeError):
        next_number("notes.notebook")
    assert take(world, "plain", "notes.notebook") == "NB-001"  # the scope above never committed


def test_numbers_are_taken_in_a_writing_session_only(world):
    with world.tenant_scope("plain", write=False) as scope, pytest.raises(RuntimeError, match="writing session"):
        scope.next_number("notes.notebook")


def test_a_rollback_gives_the_number_back(world):
    kernel = world
    with kernel.tenant_scope("plain") as scope:
        assert scope.next_number("notes.note", on=date(2026, 5, 1)) == "NOTE/2026-27/0001"
        scope.session.rollback()
        assert scope.next_number("notes.note", on=date(2026, 5, 1)) == "NOTE/2026-27/0001"
        scope.session.add(Notebook(title="document with NOTE/2026-27/0001"))
        savepoint = scope.session.begin_nested()  # a savepoint rolled back gives its number back too
        assert scope.next_number("notes.note", on=date(2026, 5, 1)) == "NOTE/2026-27/0002"
        savepoint.rollback()
        scope.session.commit()
    assert take(kernel, "plain", on=date(2026, 5, 1)) == "NOTE/2026-27/0002"


def _in_thread(fn):
    """Run ``fn`` in a thread; returns (thread, box) where box gets 'result' or 'error'."""
    box: dict[str, object] = {}

    def run():
        try:
            box["result"] = fn()
        except Exception as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def test_a_second_taker_waits_for_the_first_and_gets_the_number_it_gave_back(world):
    kernel = world
    take(kernel, "plain", "notes.notebook")  # the counter exists: NB-001
    with kernel.tenant_scope("plain") as first:
        assert first.next_number("notes.notebook") == "NB-002"
        thread, box = _in_thread(lambda: take(kernel, "plain", "notes.notebook"))
        thread.join(0.5)
        assert thread.is_alive(), "the second taker did not wait for the lock"
        first.session.rollback()
    thread.join(30)
    assert box == {"result": "NB-002"}


def test_two_transactions_creating_the_same_counter_never_share_a_number(world):
    kernel = world
    with kernel.tenant_scope("plain") as first:
        assert first.next_number("notes.notebook") == "NB-001"  # inserts the counter, not yet committed
        thread, box = _in_thread(lambda: take(kernel, "plain", "notes.notebook"))
        thread.join(0.5)
        assert thread.is_alive()
        first.session.commit()
    thread.join(30)
    assert box == {"result": "NB-002"}
    assert counters(kernel, "plain")[("notes.notebook", "", "")] == 2


def _hammer(kernel, slug, key, threads, per_thread, rollback_share, seed=7):
    """Every thread takes numbers in its own tenant scope until ``per_thread`` are committed."""
    committed: list[str] = []
    errors: list[str] = []
    rolled_back = [0]
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker(index: int) -> None:
        rnd = random.Random(seed * 1000 + index)
        start.wait()
        done = 0
        while done < per_thread:
            try:
                with kernel.tenant_scope(slug) as scope:
                    number = next_number(key)
                    scope.session.add(Notebook(title=number))  # a document carrying the number
                    if rnd.random() < 0.5:
                        time.sleep(rnd.random() / 1000)
                    if rnd.random() < rollback_share:
                        scope.session.rollback()
                        with lock:
                            rolled_back[0] += 1
                        continue
                    scope.session.commit()
            except Exception as exc:  # noqa: BLE001 - any error reaching the caller fails the test
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                return
            with lock:
                committed.append(number)
            done += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(300)
    return committed, errors, rolled_back[0]


def test_concurrent_takers_get_no_duplicates_and_no_gaps(world, backend):
    kernel = world
    threads, per_thread = (16, 25) if backend == "postgresql" else (6, 10)
    configure(kernel, "plain", "notes.note", pattern="N/{FY_SHORT}/{seq:05}")
    committed, errors, rolled_back = _hammer(kernel, "plain", "notes.note", threads, per_thread, 0.2)
    assert errors == []
    total = threads * per_thread
    assert len(committed) == total and len(set(committed)) == total
    assert sorted(int(n.rsplit("/", 1)[1]) for n in committed) == list(range(1, total + 1))
    assert rolled_back > 0  # rollbacks happened, and their numbers were given back
    assert counters(kernel, "plain")[("notes.note", "FY2026-27", "")] == total
    with kernel.tenant_scope("plain", write=False) as scope:
        titles = set(scope.session.scalars(select(Notebook.title).where(Notebook.title.like("N/%"))))
    assert titles == set(committed)


# -- limits, constraints and checks when a pattern is saved ------------------------------------------------------


def test_saving_checks_the_longest_number_against_the_series_own_limits(world):
    kernel = world
    errors = refused(kernel, "plain", "notes.note", max_length=16)
    assert errors == {
        "pattern": [
            "the longest number, NOTE/2026-27/9999, has 17 characters; at most 16 are allowed (this series' own limit)"
        ]
    }
    errors = refused(kernel, "plain", "notes.note", pattern="NOTE_{FY} {seq:04}", allowed_chars=GST_CHARS)
    assert errors == {"pattern": ["characters ' ', '_' are not allowed in the numbers (this series' own limit)"]}
    saved = configure(kernel, "plain", "notes.note", pattern="INV/{FY_SHORT}/{seq:05}", max_length=16)
    assert saved["compliance"]["ok"] and saved["compliance"]["longest"] == "INV/26-27/99999"
    assert saved["version"] == 2 and saved["max_length"] == 16


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("NOTE/{FY}", "needs exactly one {seq:0N} token"),
        ("{seq:04}{seq:04}/{FY}", "exactly one is allowed"),
        ("NOTE/{FINYEAR}/{seq:04}", "unknown token {FINYEAR}"),
        ("NOTE/{seq:04}", "financial-year reset needs {FY}"),
    ],
)
def test_saving_refuses_a_bad_pattern_naming_the_field(world, pattern, fragment):
    errors = refused(world, "plain", "notes.note", pattern=pattern)
    assert any(fragment in message for message in errors["pattern"]), errors


def test_a_constraint_from_another_plugin_applies_with_its_reason(world):
    kernel = world
    errors = refused(kernel, "both", "notes.note", pattern="NOTE/{FY}/{seq:04}")
    assert errors == {
        "pattern": [
            "the longest number, NOTE/2026-27/9999, has 17 characters; "
            "at most 16 are allowed (tags: at most 16 characters)"
        ]
    }
    errors = refused(kernel, "both", "notes.note", pattern="INV/{YYYY}/{seq:04}", reset="yearly")
    assert errors["reset"] == [
        "reset yearly is not allowed; allowed: financial_year, monthly (tags: restart at least every financial year)"
    ]
    # Tightest wins: a looser own limit does not loosen the constraint, a tighter one adds to it.
    assert refused(kernel, "both", "notes.note", pattern="INV/{FY}/{seq:05}", max_length=40)["pattern"][0].endswith(
        "(tags: at most 16 characters)"
    )
    tight = refused(kernel, "both", "notes.note", pattern="INV/{FY}/{seq:04}", max_length=12)["pattern"]
    assert len(tight) == 1 and tight[0].endswith("at most 12 are allowed (this series' own limit)")
    saved = configure(kernel, "both", "notes.note", pattern="INV/{FY}/{seq:04}")
    assert saved["effective_max_length"] == 16 and saved["resets_allowed"] == ["financial_year", "monthly"]
    assert [c["reason"] for c in saved["constraints"]] == [
        "tags: at most 16 characters",
        "tags: restart at least every financial year",
    ]


def test_a_constraint_of_a_plugin_the_tenant_has_not_enabled_does_not_apply(world):
    kernel = world
    saved = configure(kernel, "plain", "notes.note", pattern="NOTE/{FY}/{seq:04}", reset="financial_year")
    assert saved["compliance"]["ok"] and saved["constraints"] == []
    assert take(kernel, "plain", on=date(2026, 4, 2)) == "NOTE/2026-27/0001"  # 17 characters are fine here
    assert constraints_for(kernel.bus.for_enabled({"notes"}), "notes.note") == []
    assert len(constraints_for(kernel.bus.for_enabled({"notes", "tags"}), "notes.note")) == 2


def test_a_pattern_that_breaks_a_constraint_issues_no_number_until_it_is_fixed(world):
    kernel = world  # 'both' got the notes default before tags' 16-character rule was checked against it
    with kernel.tenant_scope("both") as scope:
        listed = {item["key"]: item for item in list_series(scope)}["notes.note"]
        assert listed["compliance"]["ok"] is False
        with pytest.raises(UdyogError) as info:
            scope.next_number("notes.note")
        scope.session.commit()  # a caller that carries on after the refusal commits no number
    assert info.value.status == 409
    assert info.value.errors["series"] == [
        "number NOTE/2026-27/0001 has 17 characters; at most 16 are allowed (tags: at most 16 characters)"
    ]
    assert counters(kernel, "both") == {("notes.note", "FY2026-27", ""): 0}  # nothing was taken
    configure(kernel, "both", "notes.note", pattern="NOTE/{FY_SHORT}/{seq:04}")
    assert take(kernel, "both") == "NOTE/26-27/0001"


def test_a_counter_past_its_width_is_refused_when_a_limit_would_break_and_the_number_given_back(world):
    kernel = world
    configure(kernel, "plain", "notes.notebook", pattern="B{seq:01}", max_length=2)
    assert [take(kernel, "plain", "notes.notebook") for _ in range(9)][-1] == "B9"
    with kernel.tenant_scope("plain") as scope, pytest.raises(UdyogError, match="B10 has 3 characters"):
        scope.next_number("notes.notebook")
    assert counters(kernel, "plain")[("notes.notebook", "", "")] == 9
    configure(kernel, "plain", "notes.notebook", max_length=None)
    assert take(kernel, "plain", "notes.notebook") == "B10"  # without a limit the number grows


def test_settings_broken_by_a_newly_enabled_constraint_refuse_and_leave_the_counter_as_it_was(world):
    kernel = world
    configure(kernel, "plain", "notes.note", pattern="N{seq:04}", reset="never")
    assert take(kernel, "plain", "notes.note") == "N0001"
    enable_plugins(kernel, "plain", ["tags"])  # tags: restart at least every financial year
    with kernel.tenant_scope("plain") as scope:
        with pytest.raises(UdyogError) as info:
            scope.next_number("notes.note")
        assert info.value.status == 409 and "reset never is not allowed" in info.value.errors["series"][0]
        value = scope.session.scalar(
            select(SeriesCounter.value)
            .join(NumberSeries, NumberSeries.id == SeriesCounter.series_id)
            .where(NumberSeries.key == "notes.note", SeriesCounter.period == "")
        )
        assert value == 1  # nothing taken; the caller's transaction carries on
        scope.session.commit()
    assert counters(kernel, "plain")[("notes.note", "", "")] == 1
    configure(kernel, "plain", "notes.note", pattern="N/{FY_SHORT}/{seq:04}", reset="financial_year")
    assert take(kernel, "plain", "notes.note") == "N/26-27/0002"  # continues this year's numbers


def test_branch_tokens_are_checked_with_the_longest_branch_code(world):
    kernel = world
    errors = refused(kernel, "both", "notes.note", pattern="{BRANCH}/{FY_SHORT}/{seq:03}")
    assert "BBBBBBBBBBBBBBBB/26-27/999 with a 16-character branch code, has 26 characters" in errors["pattern"][0]
    with kernel.tenant_scope("both") as scope:
        create_branch(scope.session, code="PUNE", name="Pune")
        create_branch(scope.session, code="NSK_2", name="Nashik")
        scope.session.commit()
    saved = configure(kernel, "both", "notes.note", pattern="{BRANCH}/{FY_SHORT}/{seq:03}")
    assert saved["compliance"]["longest"] == "NSK_2/26-27/999"
    errors = refused(kernel, "both", "notes.note", allowed_chars=GST_CHARS)
    assert errors == {"pattern": ["character '_' is not allowed in the numbers (this series' own limit)"]}


def test_gap_free_cannot_be_switched_off_where_the_plugin_requires_it(world):
    errors = refused(world, "plain", "notes.note", gap_free=False)
    assert errors == {"gap_free": ["notes requires Note numbers to be gap-free"]}
    assert configure(world, "plain", "notes.notebook", gap_free=True)["gap_free"] is True


def test_a_stale_version_is_refused(world):
    kernel = world
    configure(kernel, "plain", "notes.notebook", pattern="NB/{seq:04}", version=1)
    with kernel.tenant_scope("plain") as scope, pytest.raises(UdyogError) as info:
        set_series(scope, "notes.notebook", pattern="NB/{seq:05}", version=1)
    assert info.value.status == 409 and info.value.errors == {"version": ["is 2 now, you sent 1"]}


def test_changing_the_reset_period_never_repeats_a_number_of_the_current_period(world, clock):
    kernel = world
    clock("2026-05-10T06:00")
    configure(kernel, "plain", "notes.notebook", pattern="NB/{YYYY}/{seq:03}", reset="yearly")
    assert [take(kernel, "plain", "notes.notebook") for _ in range(3)][-1] == "NB/2026/003"
    configure(kernel, "plain", "notes.notebook", reset="never")
    assert take(kernel, "plain", "notes.notebook") == "NB/2026/004"
    configure(kernel, "plain", "notes.notebook", pattern="NB/{YYYY}/{MM}/{seq:03}", reset="monthly")
    assert take(kernel, "plain", "notes.notebook") == "NB/2026/05/005"
    clock("2026-06-01T06:00")
    assert take(kernel, "plain", "notes.notebook") == "NB/2026/06/001"  # later periods start at 1


def test_preview_renders_without_taking_and_reports_compliance(world):
    kernel = world
    take(kernel, "plain", on=date(2026, 5, 1))
    with kernel.tenant_scope("plain", write=False) as scope:
        shown = preview(scope, "notes.note")
        assert shown["number"] == "NOTE/2026-27/0002" and shown["compliance"]["ok"]
        shown = preview(scope, "notes.note", pattern="INV-{FY_SHORT}-{seq:06}", max_length=14)
        assert shown["number"] == "INV-26-27-000002"
        assert shown["compliance"]["errors"]["pattern"][0].startswith("the longest number, INV-26-27-999999, has 16")
        assert preview(scope, "notes.note", pattern="{seq:04}{seq:04}")["compliance"]["errors"]["pattern"] == [
            "has 2 {seq:0N} tokens; exactly one is allowed"
        ]
        assert preview(scope, "notes.note", max_length=KEEP)["number"] == "NOTE/2026-27/0002"
    assert take(kernel, "plain", on=date(2026, 5, 1)) == "NOTE/2026-27/0002"


def test_a_malformed_constraint_names_its_plugin(kernel_factory):
    kernel = kernel_factory(["notes"])

    class Sloppy:
        @hookimpl
        def udyog_series_constraints(self, key):
            return [SeriesConstraint(key, "sloppy: too long", max_length=0), "sixteen"]

    kernel.pm.register(Sloppy(), name="sloppy")
    with pytest.raises(SeriesRegistrationError) as info:
        constraints_for(kernel.bus.for_enabled({"notes"}), "notes.note")
    assert info.value.errors["plugins"] == [
        "sloppy: constraint on notes.note: max_length must be a whole number from 1 to 1000",
        "sloppy: udyog_series_constraints returned str, not SeriesConstraint",
    ]


# -- REST API and CLI ------------------------------------------------------------------------------------------------


@pytest.fixture
def api(world):
    kernel = world
    create_member(kernel, "both", "owner@both.test", roles=("Owner",))
    create_member(kernel, "both", "member@both.test", roles=("Member",))
    app = create_app(kernel=kernel)
    return kernel, login(app, "owner@both.test"), login(app, "member@both.test")


def test_api_lists_series_with_constraints_compliance_and_the_next_number(api):
    kernel, owner, member = api
    response = owner.get("/api/v1/core/series")
    assert response.status_code == 200, response.get_json()
    items = {item["key"]: item for item in response.get_json()["data"]}
    note = items["notes.note"]
    assert note["pattern"] == "NOTE/{FY}/{seq:04}" and note["reset"] == "financial_year" and note["gap_free"]
    assert note["next_number"] == "NOTE/2026-27/0001"
    assert note["compliance"] == {
        "ok": False,
        "errors": {
            "pattern": [
                "the longest number, NOTE/2026-27/9999, has 17 characters; "
                "at most 16 are allowed (tags: at most 16 characters)"
            ]
        },
        "longest": "NOTE/2026-27/9999",
        "length": 17,
    }
    assert {c["plugin"] for c in note["constraints"]} == {"tags"}
    assert items["notes.notebook"]["next_number"] == "NB-001"
    assert owner.get("/api/v1/core/series/notes.notebook").get_json()["data"]["version"] == 1
    assert member.get("/api/v1/core/series").status_code == 403
    assert owner.get("/api/v1/core/series/notes.nothing").status_code == 404


def test_api_put_validates_and_saves_with_optimistic_locking(api):
    kernel, owner, member = api
    url = "/api/v1/core/series/notes.note"
    bad = owner.put(url, json={"pattern": "NOTE/{FY}/{seq:04}", "version": 1})
    assert bad.status_code == 422
    assert bad.get_json()["errors"]["pattern"][0].endswith("(tags: at most 16 characters)")
    assert owner.put(url, json={"pattern": "NOTE/{FY}", "version": 1}).get_json()["errors"]["pattern"] == [
        "needs exactly one {seq:0N} token for the sequence, e.g. INV/{FY}/{seq:04}"
    ]
    assert owner.put(url, json={"reset": "weekly", "version": 1}).status_code == 422
    assert owner.put(url, json={"pattern": "X/{FY}/{seq:04}"}).status_code == 422  # the version is required
    assert member.put(url, json={"pattern": "N/{FY}/{seq:04}", "version": 1}).status_code == 403
    good = owner.put(url, json={"pattern": "N/{FY}/{seq:04}", "allowed_chars": GST_CHARS, "version": 1})
    assert good.status_code == 200, good.get_json()
    data = good.get_json()["data"]
    assert data["version"] == 2 and data["compliance"]["ok"] and data["next_number"] == "N/2026-27/0001"
    stale = owner.put(url, json={"pattern": "M/{FY}/{seq:04}", "version": 1})
    assert stale.status_code == 409 and stale.get_json()["errors"] == {"version": ["is 2 now, you sent 1"]}
    assert take(kernel, "both") == "N/2026-27/0001"


def test_api_preview_renders_a_pattern_without_saving(api):
    kernel, owner, member = api
    url = "/api/v1/core/series/notes.note/preview"
    shown = owner.get(url, query_string={"pattern": "INV/{FY_SHORT}/{seq:05}"}).get_json()["data"]
    assert shown["number"] == "INV/26-27/00001" and shown["compliance"]["ok"] is True
    shown = owner.get(url, query_string={"pattern": "INVOICE/{FY}/{seq:05}"}).get_json()["data"]
    assert shown["compliance"]["ok"] is False and shown["compliance"]["length"] == 21
    assert owner.get(url, query_string={"reset": "never"}).get_json()["data"]["compliance"]["errors"]["reset"]
    assert owner.get(url, query_string={"colour": "red"}).status_code == 422
    assert owner.get("/api/v1/core/series").get_json()["data"][0]["pattern"] == "NOTE/{FY}/{seq:04}"


def test_cli_sets_and_lists_series(world):
    from udyog.cli import _Obj, main

    kernel = world
    obj = _Obj({})
    obj._kernel = kernel  # the command runs on the test's kernel (and database)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, ["series", *args], obj=obj, catch_exceptions=False)

    result = run("set", "notes.note", "--tenant", "both", "--pattern", "NOTE/{FY}/{seq:04}")
    assert result.exit_code == 2
    assert "at most 16 are allowed (tags: at most 16 characters)" in result.output
    result = run("set", "notes.note", "--tenant", "both", "--pattern", "NOTE/{FY_SHORT}/{seq:04}", "--max-length", "15")
    assert result.exit_code == 0, result.output
    assert "series notes.note of both: NOTE/{FY_SHORT}/{seq:04} (financial_year), next NOTE/26-27/0001" in result.output
    result = run("set", "notes.notebook", "--tenant", "both", "--reset", "yearly")
    assert result.exit_code == 2 and "yearly reset needs the year" in result.output
    result = run("list", "--tenant", "both")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "notes.note",
        "NOTE/{FY_SHORT}/{seq:04}",
        "financial_year",
        "next",
        "NOTE/26-27/0001",
        "gap-free",
    ]
    assert lines[1].split() == ["notes.notebook", "NB-{seq:03}", "never", "next", "NB-001"]
    with kernel.tenant_scope("both", write=False) as scope:
        assert scope.session.scalar(select(NumberSeries.max_length).where(NumberSeries.key == "notes.note")) == 15
    assert run("set", "notes.notebook", "--tenant", "both", "--max-length", "0").exit_code == 0
    with kernel.tenant_scope("both", write=False) as scope:
        assert scope.session.scalar(select(NumberSeries.max_length).where(NumberSeries.key == "notes.notebook")) is None


def test_api_a_series_never_saved_shows_version_0_and_is_created_by_a_put_with_it(api):
    kernel, owner, member = api
    with kernel.tenant_scope("both") as scope:  # as after an update of the plugin that added the series
        scope.session.execute(delete(NumberSeries).where(NumberSeries.key == "notes.notebook"))
        scope.session.commit()
    url = "/api/v1/core/series/notes.notebook"
    shown = owner.get(url).get_json()["data"]
    assert shown["version"] == 0 and shown["pattern"] == "NB-{seq:03}" and shown["next_number"] == "NB-001"
    assert owner.put(url, json={"pattern": "B-{seq:04}", "version": 1}).status_code == 409
    saved = owner.put(url, json={"pattern": "B-{seq:04}", "version": 0})
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["data"]["version"] == 1 and saved.get_json()["data"]["next_number"] == "B-0001"
    disable_plugins(kernel, "both", ["tags", "notes"])
    assert owner.get(url).status_code == 404
    assert owner.get("/api/v1/core/series").get_json()["data"] == []
