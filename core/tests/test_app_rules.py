"""URL rules that compile their builders on first use (udyog.app.LazyBuildRule)."""

from __future__ import annotations

import threading
import uuid

from flask import Flask, url_for

from udyog.app import LazyBuildRule


def _app(rule_class: type) -> Flask:
    app = Flask(__name__)
    app.url_rule_class = rule_class
    app.add_url_rule("/things/<uuid:thing_id>", "thing", lambda thing_id: "")

    def pages(page: int) -> str:
        return ""

    app.add_url_rule("/pages/", "pages", pages, defaults={"page": 1})
    app.add_url_rule("/pages/<int:page>", "pages", pages)
    app.add_url_rule("/files/<path:name>", "file", lambda name: "")
    return app


def test_lazy_rules_build_the_same_urls_as_werkzeugs_and_compile_only_what_is_used():
    thing = uuid.UUID("12345678-1234-5678-1234-567812345678")
    calls = [
        ("thing", {"thing_id": thing}),
        ("thing", {"thing_id": thing, "q": "a b", "n": [1, 2]}),
        ("pages", {}),
        ("pages", {"page": 1}),
        ("pages", {"page": 7}),
        ("file", {"name": "a/b c.txt"}),
    ]
    plain, lazy = _app(Flask.url_rule_class), _app(LazyBuildRule)
    rule = next(lazy.url_map.iter_rules("thing"))
    assert rule._build.__func__.__name__ == "_build_later"
    assert rule._build_unknown.__func__.__name__ == "_build_unknown_later"
    for app_ in (plain, lazy):
        with app_.test_request_context():
            app_.config["URLS"] = [url_for(endpoint, **values) for endpoint, values in calls]
    assert lazy.config["URLS"] == plain.config["URLS"]
    assert lazy.config["URLS"][1] == f"/things/{thing}?q=a+b&n=1&n=2"
    # url_for builds with unknown values appended: that builder was compiled, in the rule's place.
    assert rule._build_unknown.__func__.__name__ != "_build_unknown_later"
    # Matching never needed a builder.
    assert lazy.url_map.bind("x").match(f"/things/{thing}") == ("thing", {"thing_id": thing})


def test_lazy_builders_compiled_by_racing_threads_build_the_same_url():
    app = _app(LazyBuildRule)
    thing = uuid.uuid4()
    urls: list[str] = []
    barrier = threading.Barrier(4)

    def build() -> None:
        barrier.wait()
        with app.test_request_context():
            urls.append(url_for("thing", thing_id=thing))

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert urls == [f"/things/{thing}"] * 4
