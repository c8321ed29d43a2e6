"""The rule factory and the collection of contributed rules (no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from udyog_vigilance.rules import RuleSet, collect, rule


def _noop(ctx):
    return None


def test_the_factory_checks_every_argument_and_names_it():
    made = rule(
        key="sales.credit_limit_breach",
        title="Credit limit breached",
        events=("sales.order.confirmed", "sales.payment.*"),
        evaluate=_noop,
        severity="critical",
        thresholds={"percent": Decimal("100"), "days": 3},
        roles=("Sales Manager",),
    )
    assert made.plugin == "sales" and made.matches("sales.payment.received") and not made.matches("sales.x")
    assert dict(made.thresholds) == {"percent": Decimal("100"), "days": 3} and made.enabled
    for bad, word in (
        ({"key": "Sales.Credit"}, "key"),
        ({"key": "sales"}, "key"),
        ({"severity": "panic"}, "severity"),
        ({"thresholds": {"percent": 1.5}}, "percent"),
        ({"thresholds": {"percent": True}}, "percent"),
        ({"thresholds": {"Bad Name": 1}}, "threshold name"),
        ({"events": ("sales order",)}, "event"),
        ({"events": (), "cron": None}, "events, a cron"),
        ({"cron": "every day"}, "cron"),
        ({"cron": "61 * * * *"}, "cron"),
        ({"title": " "}, "title"),
        ({"evaluate": "not callable"}, "evaluate"),
    ):
        arguments = {"key": "sales.rule_x", "title": "X", "events": ("sales.*",), "evaluate": _noop, **bad}
        with pytest.raises(ValueError, match=word):
            rule(**arguments)
    scheduled = rule(key="fssai.batch_near_expiry", title="Near expiry", cron="0  6 * * *", evaluate=_noop)
    assert scheduled.cron == "0 6 * * *" and scheduled.events == ()


class _Impl:
    def __init__(self, plugin, function):
        self.plugin_name, self.function, self.argnames = plugin, function, ("rule",)


class _Relay:
    def __init__(self, impls):
        self.vigilance_rules = type("Caller", (), {"get_hookimpls": lambda self: impls})()


def test_a_plugin_with_a_bad_answer_keeps_none_of_its_rules_and_the_others_stand():
    good = _Impl("sales", lambda rule: [rule(key="sales.a", title="A", events=("sales.*",), evaluate=_noop)])
    foreign = _Impl(
        "crm",
        lambda rule: [
            rule(key="crm.fine", title="Fine", events=("crm.*",), evaluate=_noop),
            rule(key="sales.stolen", title="Stolen", events=("sales.*",), evaluate=_noop),
        ],
    )
    broken = _Impl("hr", lambda rule: 1 / 0)
    twice = _Impl(
        "gst",
        lambda rule: [rule(key="gst.a", title="A", cron="0 1 * * *", evaluate=_noop)] * 2,
    )
    found = collect(_Relay([good, foreign, broken, twice]))
    assert list(found.rules) == ["sales.a"]
    assert set(found.problems) == {"crm", "hr", "gst"} and "must start with 'crm.'" in found.problems["crm"]
    assert "declared twice" in found.problems["gst"] and "ZeroDivisionError" in found.problems["hr"]


def test_a_rule_set_indexes_patterns_crons_and_events():
    rules = RuleSet(
        [
            rule(key="a.one", title="1", events=("a.x.*", "b.y"), evaluate=_noop),
            rule(key="a.two", title="2", events=("a.x.made",), cron="0 * * * *", evaluate=_noop),
            rule(key="a.three", title="3", cron="0 * * * *", evaluate=_noop),
        ]
    )
    assert rules.patterns == ("a.x.*", "a.x.made", "b.y") and rules.crons == ("0 * * * *",)
    assert [r.key for r in rules.for_event("a.x.made")] == ["a.one", "a.two"]
    assert [r.key for r in rules.for_event("b.y")] == ["a.one"] and rules.for_event("c.z") == ()
    assert [r.key for r in rules.for_cron("0 * * * *")] == ["a.three", "a.two"]
