"""CSV and Excel import of declared resources (udyog_sdk.imports), over HTTP, on SQLite and PostgreSQL.

The resources are the test plugins': ``ledger``'s vouchers (numbered from a
gap-free series; ``taxes`` contributes an HSN code and a tax rate), and
``notes``' notebooks (unique titles) and notes (a reference to a notebook,
an event on creation).
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import re
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from udyog_test_ledger.models import Voucher
from udyog_test_notes.models import Notebook

from udyog.app import create_app
from udyog.models import AuditEntry, JobRun, OutboxEvent
from udyog.tenancy import create_tenant
from udyog.testing import TEST_PASSWORD, create_member, execute_run, login

PLUGINS = ["notes", "ledger", "taxes"]
VOUCHERS = "/api/v1/ledger/vouchers"
NOTEBOOKS = "/api/v1/notes/notebooks"


@pytest.fixture
def world(kernel_factory, backend, tmp_path):
    return _world(kernel_factory(PLUGINS, backend=backend, jobs_eager=True, import_background_rows=20), tmp_path)


@pytest.fixture
def sqlite_world(kernel_factory, tmp_path):
    return _world(kernel_factory(PLUGINS, jobs_eager=True, import_background_rows=20), tmp_path)


def _world(kernel: Any, tmp_path: Path) -> dict[str, Any]:
    create_tenant(kernel, "acme", "Acme", plugins=PLUGINS)
    create_tenant(kernel, "zenith", "Zenith", plugins=PLUGINS)
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    create_member(kernel, "zenith", "owner@zenith.test", roles=("Owner",))
    app = create_app(kernel=kernel)
    owner = login(app, "owner@acme.test")
    for name, permissions in {
        "Importer": ["ledger.voucher.read", "ledger.voucher.create", "ledger.voucher.import"],
        "Creator": ["ledger.voucher.read", "ledger.voucher.create"],
        "Lister": ["ledger.voucher.read", "ledger.voucher.import"],
    }.items():
        made = owner.post("/api/v1/core/roles", json={"name": name, "permissions": permissions})
        assert made.status_code == 201, made.get_json()
        create_member(kernel, "acme", f"{name.lower()}@acme.test", roles=(name,))
    return {"kernel": kernel, "app": app, "owner": owner, "zenith": login(app, "owner@zenith.test")}


def upload(client: Any, url: str, content: bytes | str, name: str = "file.csv", **query: Any) -> Any:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return client.post(
        f"{url}/import",
        query_string=query,
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def vouchers(kernel: Any, tenant: str = "acme") -> list[Voucher]:
    with kernel.tenant_scope(tenant, write=False) as scope:
        return list(scope.session.scalars(select(Voucher).order_by(Voucher.number)))


def count(kernel: Any, model: Any, tenant: str = "acme") -> int:
    with kernel.tenant_scope(tenant, write=False) as scope:
        return int(scope.session.scalar(select(func.count()).select_from(model)) or 0)


def voucher(client: Any, party: str = "Ravi") -> dict[str, Any]:
    made = client.post(VOUCHERS, json={"party": party, "amount": "1.00", "issued_on": "2026-04-01"})
    assert made.status_code == 201, made.get_json()
    return made.get_json()["data"]  # type: ignore[no-any-return]


# -- importing -------------------------------------------------------------------------------------


def test_a_csv_file_creates_every_row_through_the_create_path(world):
    owner, kernel = world["owner"], world["kernel"]
    text = (
        "Party,Amount,Issued on,HSN code,Tax rate (%)\n"
        'Ravi Traders,"1,23,456.50",2026-04-01,1905,18\n'
        "\n"  # empty rows are skipped
        "Sita & Co,10,01/04/2026,,\n"
    )
    response = upload(owner, VOUCHERS, text, "vouchers.csv")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["message"] == "imported 2 vouchers"
    assert body["data"]["rows"] == 2 and body["data"]["created"] == 2 and body["data"]["skipped_empty"] == 1
    rows = vouchers(kernel)
    assert [(v.number, v.party, v.amount, v.issued_on) for v in rows] == [
        ("V-0001", "Ravi Traders", decimal.Decimal("123456.50"), dt.date(2026, 4, 1)),
        ("V-0002", "Sita & Co", decimal.Decimal("10.00"), dt.date(2026, 4, 1)),
    ]
    # The contributed fields went through the same path, into the taxes plugin's side table.
    listed = {v["party"]: v for v in owner.get(VOUCHERS).get_json()["data"]}
    assert listed["Ravi Traders"]["hsn_code"] == "1905" and listed["Ravi Traders"]["tax_rate"] == "18.00"
    assert listed["Sita & Co"]["hsn_code"] is None
    # Audited like any creation.
    with kernel.tenant_scope("acme", write=False) as scope:
        audited = scope.session.scalars(select(AuditEntry.record_id).where(AuditEntry.entity == "ledger_voucher"))
        assert {str(v.id) for v in rows} <= set(audited)
    # Another tenant sees none of it.
    assert vouchers(kernel, "zenith") == []


def test_custom_fields_events_and_references_by_name(world):
    owner, kernel = world["owner"], world["kernel"]
    made = owner.post(
        "/api/v1/core/custom-fields",
        json={"resource": "notes.note", "name": "x_site", "type": "text", "label": "Site"},
    )
    assert made.status_code == 201, made.get_json()
    book = owner.post(NOTEBOOKS, json={"title": "Recipes"}).get_json()["data"]
    text = f"notebook_id,title,body,Site\nRecipes,Dal,lentils and water,Pune\n{book['id']},Rice,,Nagpur\n"
    response = upload(owner, "/api/v1/notes/notes", text)
    assert response.status_code == 201, response.get_json()
    notes = {n["title"]: n for n in owner.get("/api/v1/notes/notes").get_json()["data"]}
    assert notes["Dal"]["notebook_id"] == book["id"] == notes["Rice"]["notebook_id"]  # by title, or by id
    assert notes["Dal"]["x_site"] == "Pune" and notes["Dal"]["words"] == 3  # the service counted the words
    with kernel.tenant_scope("acme", write=False) as scope:
        events = scope.session.scalars(select(OutboxEvent.name).where(OutboxEvent.name == "notes.note.created"))
        assert len(list(events)) == 2
    # A notebook of another tenant, or one that does not exist, is no reference.
    theirs = world["zenith"].post(NOTEBOOKS, json={"title": "Theirs"}).get_json()["data"]
    refused = upload(owner, "/api/v1/notes/notes", f"Notebook,Title\nNowhere,a\n{theirs['id']},b\n")
    assert refused.status_code == 422
    errors = refused.get_json()["errors"]
    assert errors["row.2.Notebook"] == ["no such notebook: 'Nowhere'"]
    assert errors["row.3.Notebook"] == ["no such notebook"]


def test_every_row_is_checked_and_errors_name_row_and_column(world):
    owner, kernel = world["owner"], world["kernel"]
    text = (
        "Party,Amount,Issued on\n"
        "Ravi,abc,2026-04-01\n"  # row 2
        ",10,2026-04-01\n"  # row 3
        "Sita,-5,soon\n"  # row 4: two columns
        "Good,1,2026-04-01\n"
    )
    response = upload(owner, VOUCHERS, text)
    assert response.status_code == 422
    body = response.get_json()
    assert body["message"] == "3 rows have errors: nothing was imported"
    assert body["errors"] == {
        "row.2.Amount": ["Not a valid number."],
        "row.3.Party": ["Missing data for required field."],
        "row.4.Amount": [f"must be at least 0 and less than {10**16}"],
        "row.4.Issued on": ["Not a valid date."],
    }
    assert set(body) == {"success", "message", "errors"}
    assert vouchers(kernel) == []


def test_all_or_nothing_gives_series_numbers_back(world):
    owner, kernel = world["owner"], world["kernel"]
    rows = "".join(f"P{i},{i}.00,2026-04-01\n" for i in range(1, 6))
    refused = upload(owner, VOUCHERS, "Party,Amount,Issued on\n" + rows + "Last,oops,2026-04-01\n")
    assert refused.status_code == 422 and list(refused.get_json()["errors"]) == ["row.7.Amount"]
    assert vouchers(kernel) == []
    # The five numbers taken for the refused rows were given back: the gap-free series goes on at 1.
    assert voucher(owner)["number"] == "V-0001"
    done = upload(owner, VOUCHERS, "Party,Amount,Issued on\n" + rows)
    assert done.status_code == 201
    assert [v.number for v in vouchers(kernel)] == [f"V-{n:04d}" for n in range(1, 7)]


def test_a_dry_run_checks_everything_and_writes_nothing(world):
    owner, kernel = world["owner"], world["kernel"]
    good = upload(owner, VOUCHERS, "Party,Amount,Issued on\nRavi,1,2026-04-01\n", dry_run="true")
    assert good.status_code == 200, good.get_json()
    assert good.get_json()["data"]["dry_run"] is True and good.get_json()["data"]["valid"] == 1
    assert good.get_json()["data"]["created"] == 0
    bad = upload(owner, VOUCHERS, "Party,Amount,Issued on\nRavi,x,2026-04-01\n", dry_run="true")
    assert bad.status_code == 422 and "row.2.Amount" in bad.get_json()["errors"]
    assert vouchers(kernel) == []
    assert voucher(owner)["number"] == "V-0001"


def test_duplicates_in_the_file_and_against_the_database_are_row_errors(world):
    owner, kernel = world["owner"], world["kernel"]
    assert owner.post(NOTEBOOKS, json={"title": "Kept"}).status_code == 201
    text = "Title\nNew\nKept\nNew\n"
    response = upload(owner, NOTEBOOKS, text)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"] == {
        "row.3.Title": ["a notebook with this Title exists already"],
        "row.4.Title": ["the same Title as row 2"],
    }
    assert count(kernel, Notebook) == 2  # Kept and the Inbox


def test_columns_that_do_not_fit_are_refused_before_any_row(world):
    owner = world["owner"]
    unknown = upload(owner, VOUCHERS, "Party,Amount,Issued on,Colour\nRavi,1,2026-04-01,red\n")
    assert unknown.status_code == 422
    (problem,) = unknown.get_json()["errors"]["columns"]
    assert problem.startswith("unknown column(s): 'Colour'; the columns are: Party, Amount, Issued on")
    missing = upload(owner, VOUCHERS, "party,AMOUNT\nRavi,1\n")  # names, any case
    assert missing.get_json()["errors"]["columns"] == ["missing required column(s): Issued on"]
    twice = upload(owner, VOUCHERS, "Party,party,Amount,Issued on\na,b,1,2026-04-01\n")
    assert twice.get_json()["errors"]["columns"] == ["columns 'Party' and 'party' both fill 'Party'"]
    headless = upload(owner, VOUCHERS, "Party,Amount,Issued on\nRavi,1,2026-04-01,extra\n")
    assert headless.get_json()["errors"]["file"] == ["row 2 has values in column 4, which has no header"]
    # Read-only columns (as an export writes them) are ignored, and said so.
    ok = upload(owner, VOUCHERS, "Number,Party,Amount,Issued on,Version\nX-9,Ravi,1,2026-04-01,7\n")
    assert ok.status_code == 201 and ok.get_json()["data"]["ignored_columns"] == ["Number", "Version"]
    assert ok.get_json()["data"]["created"] == 1


def test_encodings_dialects_and_file_limits(world):
    owner, kernel = world["owner"], world["kernel"]
    latin = upload(owner, VOUCHERS, "Party,Amount,Issued on\nJosé,1,2026-04-01\n".encode("latin-1"))
    assert latin.status_code == 422
    assert latin.get_json()["errors"]["file"] == [
        'the file is not UTF-8 text (byte 0xe9 at position 26): save it as "CSV UTF-8" (comma delimited)'
    ]
    utf16 = upload(owner, VOUCHERS, "Party\n".encode("utf-16"))
    assert "UTF-16" in utf16.get_json()["message"]
    bom_semicolons = "\ufeffParty;Amount;Issued on\nरवि;2,50;2026-04-01\n".replace("2,50", '"2.50"')
    done = upload(owner, VOUCHERS, bom_semicolons)
    assert done.status_code == 201, done.get_json()
    assert vouchers(kernel)[0].party == "रवि" and vouchers(kernel)[0].amount == decimal.Decimal("2.50")
    assert upload(owner, VOUCHERS, b"").get_json()["errors"]["file"] == ["the file is empty"]
    assert upload(owner, VOUCHERS, "\n\n").get_json()["errors"]["file"][0].startswith("the file has no header")
    wrong = upload(owner, VOUCHERS, b"%PDF-1.4 not a table", "file.pdf")
    assert wrong.status_code == 415
    assert upload(owner, VOUCHERS, b"\xd0\xcf\x11\xe0", "old.xls").status_code == 415
    broken = upload(owner, VOUCHERS, b"PK\x03\x04 not really a zip", "book.xlsx")
    assert broken.status_code == 422 and "cannot be read" in broken.get_json()["message"]
    # No part named file at all.
    nothing = owner.post(f"{VOUCHERS}/import", data={}, content_type="multipart/form-data")
    assert nothing.status_code == 422 and "file" in nothing.get_json()["errors"]


def test_row_and_size_limits(kernel_factory, tmp_path):
    kernel = kernel_factory(PLUGINS, jobs_eager=True, import_max_rows=3, import_max_bytes=200)
    create_tenant(kernel, "acme", "Acme", plugins=PLUGINS)
    create_member(kernel, "acme", "owner@acme.test")
    owner = login(create_app(kernel=kernel), "owner@acme.test")
    many = upload(owner, VOUCHERS, "Party,Amount,Issued on\n" + "a,1,2026-04-01\n" * 4)
    assert many.status_code == 422
    assert many.get_json()["errors"]["file"] == ["the file has more than 3 rows: split it into smaller files"]
    large = upload(owner, VOUCHERS, "Party,Amount,Issued on\n" + "x" * 300)
    assert large.status_code == 413 and "file" in large.get_json()["errors"]


def test_excel_cells_are_converted_to_what_the_schema_expects(world):
    owner, kernel = world["owner"], world["kernel"]
    book = xlsx(
        [
            [],  # a leading empty row: the header is row 2
            ["Party", "Amount", "Issued on", "Tax rate (%)", "HSN code"],
            ["Ravi", 1234.5, dt.datetime(2026, 4, 1), 5, 1905],
            [None, None, None, None, None],
            ["=not a formula", decimal.Decimal("0.10"), dt.date(2026, 5, 2), 12.5, "0402"],
        ]
    )
    # openpyxl writes "=..." as a formula; make it text, as a user typing '= would.
    book = _as_text_cell(book, "A5")
    response = upload(owner, VOUCHERS, book, "book.xlsx")
    assert response.status_code == 201, response.get_json()
    rows = {v.party: v for v in vouchers(kernel)}
    assert rows["Ravi"].amount == decimal.Decimal("1234.50") and rows["Ravi"].issued_on == dt.date(2026, 4, 1)
    assert rows["=not a formula"].amount == decimal.Decimal("0.10")
    listed = {v["party"]: v for v in owner.get(VOUCHERS).get_json()["data"]}
    assert listed["Ravi"]["hsn_code"] == "1905" and listed["Ravi"]["tax_rate"] == "5.00"
    assert listed["=not a formula"]["tax_rate"] == "12.50" and listed["=not a formula"]["hsn_code"] == "0402"
    # Row numbers are the sheet's: the header is row 2, the error in row 3.
    bad = upload(owner, VOUCHERS, xlsx([[], ["Party", "Amount", "Issued on"], ["x", True, "later"]]), "b.xlsx")
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"row.3.Amount", "row.3.Issued on"}


def test_formulas_are_read_as_the_values_excel_saved(world):
    owner, kernel = world["owner"], world["kernel"]
    book = xlsx([["Party", "Amount", "Issued on"], ["Ravi", "=2*21", dt.date(2026, 4, 1)]])
    book = _cached_value(book, "B2", "42")
    response = upload(owner, VOUCHERS, book, "book.xlsx")
    assert response.status_code == 201, response.get_json()
    assert vouchers(kernel)[0].amount == decimal.Decimal("42.00")


def _rewrite_sheet(book: bytes, change: Any) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(book))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = change(data.decode()).encode()
            target.writestr(item, data)
    return out.getvalue()


def _cached_value(book: bytes, ref: str, value: str) -> bytes:
    import re

    def change(xml: str) -> str:
        pattern = re.compile(rf'<c r="{ref}"[^>]*>(<f>[^<]*</f>)<v\s*/?>(</v>)?</c>')
        assert pattern.search(xml), xml
        return pattern.sub(lambda m: f'<c r="{ref}">{m.group(1)}<v>{value}</v></c>', xml)

    return _rewrite_sheet(book, change)


def _as_text_cell(book: bytes, ref: str) -> bytes:
    import re

    def change(xml: str) -> str:
        pattern = re.compile(rf'<c r="{ref}"[^>]*><f>([^<]*)</f><v\s*/?>(</v>)?</c>')
        found = pattern.search(xml)
        assert found, xml
        return pattern.sub(lambda m: f'<c r="{ref}" t="inlineStr"><is><t>={m.group(1)}</t></is></c>', xml)

    return _rewrite_sheet(book, change)


def test_permissions_import_needs_its_own_and_create(world):
    app = world["app"]
    text = "Party,Amount,Issued on\nRavi,1,2026-04-01\n"
    creator = login(app, "creator@acme.test")
    denied = upload(creator, VOUCHERS, text)
    assert denied.status_code == 403 and denied.get_json()["errors"] == {"permission": ["ledger.voucher.import"]}
    lister = login(app, "lister@acme.test")
    denied = upload(lister, VOUCHERS, text)
    assert denied.status_code == 403 and denied.get_json()["errors"] == {"permission": ["ledger.voucher.create"]}
    assert upload(login(app, "importer@acme.test"), VOUCHERS, text).status_code == 201
    names = {p["name"] for p in world["owner"].get("/api/v1/core/permissions").get_json()["data"]}
    assert "ledger.voucher.import" in names


def test_the_template_names_the_importable_columns(world):
    owner = world["owner"]
    csv_file = owner.get(f"{VOUCHERS}/import/template")
    assert csv_file.status_code == 200 and csv_file.headers["Content-Type"].startswith("text/csv")
    assert csv_file.data.decode("utf-8-sig").strip() == "Party,Amount,Issued on,HSN code,Tax rate (%)"
    book = owner.get(f"{VOUCHERS}/import/template", query_string={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(book.data)).active
    assert [c.value for c in sheet[1]] == ["Party", "Amount", "Issued on", "HSN code", "Tax rate (%)"]
    # The template imports again (no rows: nothing to do).
    assert upload(owner, VOUCHERS, book.data, "template.xlsx").status_code == 201


# -- background imports ---------------------------------------------------------------------------------


def test_a_large_file_is_imported_by_a_background_job_with_progress_and_result(world):
    owner, kernel = world["owner"], world["kernel"]
    text = "Party,Amount,Issued on\n" + "".join(f"P{i:03d},{i}.25,2026-04-01\n" for i in range(1, 251))
    response = upload(owner, VOUCHERS, text)
    assert response.status_code == 202, response.get_json()
    data = response.get_json()["data"]
    assert data["rows"] == 250 and data["status_url"] == f"{VOUCHERS}/import/{data['job_id']}"
    status = owner.get(data["status_url"]).get_json()["data"]
    assert status["state"] == "succeeded" and status["finished"] and status["progress"] == 100.0
    assert status["message"] == "imported 250 vouchers"
    assert status["result"]["created"] == 250 and status["result"]["errors"] == []
    assert [v.number for v in vouchers(kernel)][-1] == "V-0250"
    run = owner.get(f"/api/v1/core/jobs/{data['job_id']}").get_json()["data"]
    assert run["task"] == "core.import_records" and run["result"]["created"] == 250
    assert _work_files(kernel) == []  # the uploaded file is gone after the job


def test_a_background_import_with_errors_writes_nothing_and_reports_them(world):
    owner, kernel = world["owner"], world["kernel"]
    rows = "".join(f"P{i:03d},{i}.25,2026-04-01\n" for i in range(1, 150))
    response = upload(owner, VOUCHERS, "Party,Amount,Issued on\n" + rows + "Bad,,2026-04-01\n")
    assert response.status_code == 202
    job = response.get_json()["data"]["job_id"]
    status = owner.get(f"{VOUCHERS}/import/{job}").get_json()["data"]
    assert status["state"] == "failed" and status["error"] == "1 row has errors: nothing was imported"
    assert status["result"]["errors"] == [
        {"row": 151, "column": "Amount", "field": "amount", "messages": ["Missing data for required field."]}
    ]
    assert vouchers(kernel) == []
    assert voucher(owner)["number"] == "V-0001"  # every number taken while checking was given back
    assert _work_files(kernel) == []
    # Another tenant, or another resource, has no such import.
    assert world["zenith"].get(f"{VOUCHERS}/import/{job}").status_code == 404
    assert owner.get(f"{NOTEBOOKS}/import/{job}").status_code == 404
    assert owner.get(f"{VOUCHERS}/import/{uuid.uuid4()}").status_code == 404


def test_background_progress_is_committed_while_checking(kernel_factory, backend, monkeypatch):
    """Executed by hand (no eager mode): each progress report is committed, so others see it meanwhile."""
    from udyog.jobs import RunContext

    kernel = kernel_factory(PLUGINS, backend=backend, import_background_rows=5)
    create_tenant(kernel, "acme", "Acme", plugins=PLUGINS)
    user = create_member(kernel, "acme", "owner@acme.test")
    app = create_app(kernel=kernel)
    owner = login(app, "owner@acme.test")
    text = "Party,Amount,Issued on\n" + "".join(f"P{i},1,2026-04-01\n" for i in range(230))
    job = uuid.UUID(upload(owner, VOUCHERS, text).get_json()["data"]["job_id"])
    seen: list[tuple[float, str, float | None]] = []
    report = RunContext.progress

    def watched(self: Any, percent: float, message: str = "", **kw: Any) -> None:
        report(self, percent, message, **kw)
        with kernel.tenant_scope("acme", write=False) as scope:  # another session: only committed values
            seen.append((percent, message, scope.session.scalar(select(JobRun.progress).where(JobRun.id == job))))

    monkeypatch.setattr(RunContext, "progress", watched)
    with app.app_context():
        assert execute_run(kernel, _tenant_id(kernel, "acme"), job, user_id=user) == "succeeded"
    assert seen[0][:2] == (0, "checking 230 rows")
    assert (round(seen[1][0], 1), seen[1][1]) == (39.1, "checked 100 of 230 rows")
    assert seen[3][:2] == (90, "checked 230 of 230 rows") and seen[4][:2] == (90, "writing 230 rows")
    assert all(percent == committed for percent, _, committed in seen)
    assert len(vouchers(kernel)) == 230


def _tenant_id(kernel: Any, slug: str) -> uuid.UUID:
    with kernel.db.session(write=False) as session:
        return kernel.find_tenant(session, slug).id


def _work_files(kernel: Any) -> list[Path]:
    root = Path(kernel.attachments.storage.root)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# -- the pages -----------------------------------------------------------------------------------------


def _web(app: Any, email: str) -> Any:
    client = app.test_client()
    page = client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": TEST_PASSWORD, "csrf_token": _token(page.text), "next": "/"}
    )
    assert response.status_code == 302, response.text
    return client


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert found is not None, html
    return found.group(1)


def _post_file(web: Any, url: str, content: bytes, name: str = "v.csv", **fields: Any) -> Any:
    token = _token(web.get(url).text)
    return web.post(
        url,
        data={"csrf_token": token, "file": (io.BytesIO(content), name), **fields},
        content_type="multipart/form-data",
    )


def test_the_import_page_uploads_and_shows_errors_by_row_and_column(world):
    app, kernel = world["app"], world["kernel"]
    web = _web(app, "owner@acme.test")
    listing = web.get("/ledger/vouchers").text
    assert 'id="resource-import"' in listing and "/api/v1/ledger/vouchers/export?format=xlsx" in listing
    page = web.get("/ledger/vouchers/import")
    assert page.status_code == 200 and 'id="import-form"' in page.text and "<code>issued_on</code>" in page.text
    url = "/ledger/vouchers/import"
    bad = _post_file(web, url, b"Party,Amount,Issued on\nRavi,x,2026-04-01\n")
    assert bad.status_code == 422 and 'id="import-errors"' in bad.text
    assert '<tr data-row="2"><td>2</td><td>Amount</td><td>Not a valid number.</td></tr>' in bad.text
    checked = _post_file(web, url, b"Party,Amount,Issued on\nRavi,1,2026-04-01\n", dry_run="true")
    assert checked.status_code == 200 and 'id="import-checked"' in checked.text and vouchers(kernel) == []
    good = _post_file(web, url, b"Party,Amount,Issued on\nRavi,1,2026-04-01\n")
    # Imported: redirected to the list (a reload imports nothing twice), which says so once.
    assert good.status_code == 303 and good.headers["Location"] == "/ledger/vouchers"
    listed = web.get(good.headers["Location"])
    assert 'id="udyog-flash"' in listed.text and "Imported 1 vouchers." in listed.text
    assert "Imported 1 vouchers" not in web.get("/ledger/vouchers").text
    assert len(vouchers(kernel)) == 1
    columns = _post_file(web, url, b"Colour\nred\n")
    assert columns.status_code == 422 and "unknown column(s): &#39;Colour&#39;" in columns.text
    # Without the CSRF value the shell refuses the form.
    forged = web.post(
        url,
        data={"file": (io.BytesIO(b"Party,Amount,Issued on\nRavi,1,2026-04-01\n"), "v.csv")},
        content_type="multipart/form-data",
    )
    assert forged.status_code == 400 and len(vouchers(kernel)) == 1
    # Who may not import sees no button, and no page.
    creator = _web(app, "creator@acme.test")
    assert 'id="resource-import"' not in creator.get("/ledger/vouchers").text
    assert creator.get(url).status_code == 403


def test_a_background_import_from_the_page_links_to_its_status(world):
    web = _web(world["app"], "owner@acme.test")
    text = "Party,Amount,Issued on\n" + "".join(f"P{i},1,2026-04-01\n" for i in range(30))
    queued = _post_file(web, "/ledger/vouchers/import", text.encode())
    assert queued.status_code == 303
    status = web.get(queued.headers["Location"])
    assert status.status_code == 200 and 'data-state="succeeded"' in status.text
    assert "Imported 30 vouchers" in status.text and 'id="import-jobs-link"' in status.text
