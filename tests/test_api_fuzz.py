"""Property-based fuzzing of the whole API with schemathesis.

An app loads every installed plugin that can load, and one tenant enables them
all. The test logs in as a user holding every permission, reads the OpenAPI
document that user gets, and lets schemathesis generate valid and invalid
requests for every operation in it, sent to the live WSGI app. No answer may
be a 5xx, and every 4xx must carry the error envelope
``{"success": false, "message": str, "errors": {field: [str, ...]}}``.

Each backend fuzzes every operation with half of the examples, from a seed of
its own, when the run covers both (see :func:`_examples_and_seed`).

Operations come from the document, so routes and plugins added later are
fuzzed without changing this test; it also fails when an ``/api/`` route is
missing from the document (it would escape the fuzzing).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from udyog.app import create_app
from udyog.tenancy import create_tenant
from udyog.testing import create_member, login

#: Examples per operation and generation mode, shared out over the backends the run fuzzes: each
#: backend gets its part from a seed of its own (the same seed would send both the same inputs).
MAX_EXAMPLES = 6
OWNER = "owner@fuzz.test"


def _error_shape_problem(body: Any) -> str | None:
    if not isinstance(body, dict) or set(body) != {"success", "message", "errors"}:
        return "not the error envelope"
    if body["success"] is not False or not isinstance(body["message"], str):
        return "success must be false and message a string"
    errors = body["errors"]
    if not isinstance(errors, dict):
        return "errors must be an object"
    for field, messages in errors.items():
        if (
            not isinstance(field, str)
            or not isinstance(messages, list)
            or not all(isinstance(m, str) for m in messages)
        ):
            return f"errors[{field!r}] must be a list of strings"
    return None


@pytest.fixture
def fuzz_app(kernel_factory, backend):
    kernel = kernel_factory(["*"], backend=backend, strict=False)
    create_tenant(kernel, "fuzz", "Fuzz", plugins=kernel.registry.order)
    create_member(kernel, "fuzz", OWNER, roles=("Owner",))
    _define_custom_fields(kernel, "fuzz")
    return kernel, create_app(kernel=kernel)


def _define_custom_fields(kernel: Any, tenant: str) -> None:
    """One custom field of every type on the vouchers, so the composed schemas and filters are fuzzed too."""
    from udyog.custom_fields import create_definition

    definitions = [
        {"name": "x_site", "type": "text", "max_length": 20},
        {"name": "x_boxes", "type": "number"},
        {"name": "x_weight", "type": "decimal", "places": 3},
        {"name": "x_due", "type": "date"},
        {"name": "x_priority", "type": "choice", "options": ["low", "high"], "default": "low"},
        {"name": "x_urgent", "type": "boolean"},
        {"name": "x_notebook", "type": "link", "target": "notes.notebook"},
    ]
    with kernel.tenant_scope(tenant) as scope:
        if kernel.compositions.declared("ledger.voucher", scope.tenant) is None:
            return
        for values in definitions:
            create_definition(
                scope.session, scope.tenant, kernel.compositions, {"resource": "ledger.voucher", **values}
            )
        scope.session.commit()


def _token(app: Any) -> str:
    return login(app, OWNER).udyog_tokens["access_token"]


#: The operations are fuzzed in this many parts (every operation in exactly one), spread over the workers.
FUZZ_SHARDS = 3


def _examples_and_seed(config: pytest.Config, backend: str) -> tuple[int, int]:
    """This backend's share of :data:`MAX_EXAMPLES` and its seed (both backends run: half each)."""
    both = config.getoption("udyog_backend") == "all" and bool(os.environ.get("UDYOG_TEST_DATABASE_URL"))
    return (MAX_EXAMPLES // 2 if both else MAX_EXAMPLES), (1 if backend == "sqlite" else 2)


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(FUZZ_SHARDS))
def test_no_input_makes_the_api_fail_or_answer_without_the_error_envelope(fuzz_app, shard, backend, request):
    kernel, app = fuzz_app
    examples, seed = _examples_and_seed(request.config, backend)
    schema = schemathesis.openapi.from_wsgi(
        "/api/openapi.json", app, headers={"Authorization": f"Bearer {_token(app)}"}
    )
    paths = set(schema.raw_schema["paths"])

    # Every API route of every loaded plugin is in the document, so it is fuzzed.
    rule_arg = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
    routes = {rule_arg.sub(r"{\1}", r.rule) for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")}
    assert routes - paths == set(), "API routes missing from the OpenAPI document escape the fuzzing"
    owners = set(app.extensions["udyog.blueprint_owners"].values())
    assert {"core", "notes", "tags"} <= owners

    every_operation = [result.ok() for result in schema.get_all_operations()]
    assert len(every_operation) >= 20
    operations = sorted(every_operation, key=lambda op: (op.path, op.method))[shard::FUZZ_SHARDS]
    addresses = (f"10.77.{n // 250}.{n % 250 + 1}" for n in itertools.count())
    fuzzer = _Fuzzer(app, {"Authorization": f"Bearer {_token(app)}"}, addresses, examples, seed)
    problems: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzzer.run(operation, mode)
            except AssertionError as failure:
                problems.append(str(failure).splitlines()[0])
    assert not problems, "\n".join(problems)
    assert fuzzer.calls >= len(operations) * 2


class _Fuzzer:
    """Sends generated cases to the app and checks each answer."""

    def __init__(self, app: Any, auth: dict[str, str], addresses: Iterator[str], examples: int, seed: int) -> None:
        self.app = app
        self.auth = auth
        self.addresses = addresses
        self.examples = examples
        self.seed = seed
        self.calls = 0

    def run(self, operation: Any, mode: GenerationMode) -> None:
        """Fuzz one operation in one generation mode (a bounded Hypothesis run)."""

        @seed(self.seed)  # reproducible, and different per backend
        @settings(
            max_examples=self.examples,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def probe(case: Any) -> None:
            self.check(case, f"{case.method} {case.formatted_path} ({mode.value})")

        try:
            probe()
        except Unsatisfiable:
            if mode is GenerationMode.POSITIVE:
                raise
            # Nothing to get wrong: the operation takes no parameters and no body.

    def check(self, case: Any, label: str) -> None:
        """One call: never a 5xx; every 4xx in the error envelope."""
        # Each fuzzed call comes from its own address, so random failed logins
        # never lock out the owner's address.
        response = case.call(headers=self.auth, environ_base={"REMOTE_ADDR": next(self.addresses)})
        self.calls += 1
        sent = f"query={case.query!r} body={case.body!r}"[:300]
        assert response.status_code < 500, (
            f"{label} answered {response.status_code}: {response.text.strip()[:300]} {sent}"
        )
        if 400 <= response.status_code < 500:
            try:
                body = json.loads(response.text)
            except ValueError:
                body = None
            problem = _error_shape_problem(body)
            assert problem is None, (
                f"{label} answered {response.status_code}, {problem}: {response.text.strip()[:300]} {sent}"
            )
        if response.status_code == 401 or case.path.startswith("/api/v1/auth/"):
            self.auth["Authorization"] = f"Bearer {_token(self.app)}"  # a logout or a switch ended the login
