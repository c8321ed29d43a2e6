"""Export helpers (udyog_sdk.exports) and every resource's list export, on SQLite and PostgreSQL.

PDFs are parsed back with pypdf to check their text; workbooks with openpyxl.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from udyog.app import create_app
from udyog.tenancy import create_tenant
from udyog.testing import create_member, login
from udyog_sdk.exports import Column, PdfDocument, format_inr, format_number, table_to_csv, table_to_pdf, table_to_xlsx

PLUGINS = ["notes", "ledger", "taxes"]
VOUCHERS = "/api/v1/ledger/vouchers"


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


# -- the helpers ------------------------------------------------------------------------------------


def test_indian_number_formatting():
    assert format_number(decimal.Decimal("1234567.5"), 2) == "12,34,567.50"
    assert format_number(decimal.Decimal("-100000")) == "-1,00,000"
    assert format_number(999) == "999" and format_number(decimal.Decimal("0.125"), 2) == "0.13"
    assert format_number(decimal.Decimal("1234567.5"), 2, indian=False) == "1,234,567.50"
    assert format_inr(decimal.Decimal("123456.5")) == "₹ 1,23,456.50"


def test_xlsx_cells_keep_their_types_and_decimals_are_never_floats_on_the_way():
    columns = [Column("name", "Name"), Column("amount", "Amount"), Column("on", "On"), Column("ok", "OK")]
    big = decimal.Decimal("123456789012.34")
    rows = [
        {"name": '=HYPERLINK("http://x")', "amount": big, "on": dt.date(2026, 4, 1), "ok": True},
        ["Ravi", decimal.Decimal("0.125"), dt.datetime(2026, 4, 1, 4, 30, tzinfo=dt.UTC), None],
    ]
    content = table_to_xlsx(columns, rows, sheet="Vouchers", tz="Asia/Kolkata")
    # The cell holds the decimal's digits exactly, as written.
    with io.BytesIO(content) as raw:
        import zipfile

        sheet_xml = zipfile.ZipFile(raw).read("xl/worksheets/sheet1.xml").decode()
    assert "<v>123456789012.34</v>" in sheet_xml and "<f>" not in sheet_xml
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet.title == "Vouchers" and [c.value for c in sheet[1]] == ["Name", "Amount", "On", "OK"]
    assert sheet["A2"].value == '=HYPERLINK("http://x")' and sheet["A2"].data_type == "s"  # text, not a formula
    assert sheet["B2"].number_format == "#,##0.00" and sheet["B3"].number_format == "#,##0.000"
    assert sheet["C2"].value == dt.datetime(2026, 4, 1) and sheet["C2"].number_format == "yyyy-mm-dd"
    assert sheet["C3"].value == dt.datetime(2026, 4, 1, 10, 0)  # 04:30 UTC in Asia/Kolkata
    assert sheet["D2"].value is True and sheet["D3"].value is None
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.b


def test_csv_is_exact_and_defuses_formulas():
    columns = [Column("a", "A"), Column("b", "B"), Column("c", "C")]
    rows = [[decimal.Decimal("1E+3"), "=1+2", "'quoted"], [decimal.Decimal("0.10"), "-5 apples", "plain"]]
    content = table_to_csv(columns, rows)
    assert content.startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(io.StringIO(content.decode("utf-8-sig")))) == [
        ["A", "B", "C"],
        ["1000", "'=1+2", "'quoted"],
        ["0.10", "'-5 apples", "plain"],
    ]


def test_pdf_renders_the_rupee_sign_and_devanagari():
    doc = PdfDocument("Tax invoice", subtitle="Acme Foods Pvt Ltd")
    doc.key_values([("Invoice no.", "INV/2025-26/0001"), ("Date", dt.date(2026, 4, 1)), ("ग्राहक", "रवि ट्रेडर्स")])
    doc.table(
        [Column("item", "Item"), Column("qty", "Qty"), Column("amount", "Amount", "money")],
        [{"item": "Atta 10 kg", "qty": 3, "amount": decimal.Decimal("1234567.5")}],
    )
    doc.totals([("Taxable value", decimal.Decimal("1234567.50")), ("Total", decimal.Decimal("1456789.65"))])
    content = doc.output()
    assert content.startswith(b"%PDF-")
    text = pdf_text(content)
    for expected in ("Tax invoice", "INV/2025-26/0001", "01-04-2026", "12,34,567.50", "₹ 14,56,789.65", "रवि"):
        assert expected in text, (expected, text)
    # The fonts are embedded: subsets of the packaged Noto Sans, and of Noto Sans Devanagari as its fallback.
    fonts = [
        f.get_object() for page in PdfReader(io.BytesIO(content)).pages for f in page["/Resources"]["/Font"].values()
    ]
    assert len(fonts) == 2 and all("NotoSans" in str(f["/BaseFont"]) for f in fonts)
    assert all("/FontFile2" in f["/DescendantFonts"][0].get_object()["/FontDescriptor"] for f in fonts)


def test_table_to_pdf_repeats_headings_over_pages_and_turns_landscape_for_wide_tables():
    columns = [Column(f"c{i}", f"Column {i}") for i in range(8)]
    rows = [[f"r{r}c{i}" for i in range(8)] for r in range(120)]
    content = table_to_pdf("Wide", columns, rows)
    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) > 1
    assert float(reader.pages[0].mediabox.width) > float(reader.pages[0].mediabox.height)
    assert all("Column 7" in page.extract_text() for page in reader.pages)
    assert "r119c7" in pdf_text(content) and "page 2 of" in reader.pages[1].extract_text()


# -- a resource's export ----------------------------------------------------------------------------


@pytest.fixture
def world(kernel_factory, backend):
    kernel = kernel_factory(PLUGINS, backend=backend, export_max_rows=5)
    create_tenant(kernel, "acme", "Acme", plugins=PLUGINS)
    create_tenant(kernel, "zenith", "Zenith", plugins=PLUGINS)
    create_member(kernel, "acme", "owner@acme.test")
    create_member(kernel, "zenith", "owner@zenith.test")
    app = create_app(kernel=kernel)
    owner = login(app, "owner@acme.test")
    made = owner.post("/api/v1/core/roles", json={"name": "Writer", "permissions": ["ledger.voucher.create"]})
    assert made.status_code == 201
    create_member(kernel, "acme", "writer@acme.test", roles=("Writer",))
    for party, amount, day, hsn in [
        ("Esha", "1234567.50", 3, "1905"),
        ("Amit", "0.10", 1, None),
        ("Dev", "7", 2, None),
    ]:
        body = {"party": party, "amount": amount, "issued_on": f"2026-04-0{day}", "hsn_code": hsn}
        assert owner.post(VOUCHERS, json=body).status_code == 201
    return {"kernel": kernel, "app": app, "owner": owner, "zenith": login(app, "owner@zenith.test")}


def upload(client: Any, content: bytes, name: str) -> Any:
    return client.post(
        f"{VOUCHERS}/import", data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data"
    )


def test_csv_export_honours_filters_and_sort_and_keeps_decimals_exact(world):
    owner = world["owner"]
    response = owner.get(f"{VOUCHERS}/export", query_string={"sort": "party", "issued_on__gte": "2026-04-02"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="ledger-vouchers-')
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [(r["Party"], r["Amount"], r["Issued on"]) for r in rows] == [
        ("Dev", "7.00", "2026-04-02"),
        ("Esha", "1234567.50", "2026-04-03"),
    ]
    assert rows[1]["HSN code"] == "1905" and rows[1]["Number"] == "V-0001"
    # A composed filter (contributed by the taxes plugin) applies too.
    only = owner.get(f"{VOUCHERS}/export", query_string={"hsn_code": "1905"}).data.decode("utf-8-sig")
    assert "Esha" in only and "Dev" not in only
    # Tenants see only their own records.
    theirs = world["zenith"].get(f"{VOUCHERS}/export").data.decode("utf-8-sig")
    assert theirs.strip() == "Id,Number,Party,Amount,Issued on,Cancelled,Version,HSN code,Tax rate (%)"


def test_export_arguments_and_limits_are_checked(world):
    owner = world["owner"]
    assert owner.get(f"{VOUCHERS}/export", query_string={"format": "doc"}).get_json()["errors"] == {
        "format": ["Must be one of: csv, xlsx, pdf."]
    }
    assert "limit" in owner.get(f"{VOUCHERS}/export", query_string={"limit": "2"}).get_json()["errors"]
    assert "sort" in owner.get(f"{VOUCHERS}/export", query_string={"sort": "amount"}).get_json()["errors"]
    for party in ("F", "G", "H"):
        owner.post(VOUCHERS, json={"party": party, "amount": "1", "issued_on": "2026-04-09"})
    too_many = owner.get(f"{VOUCHERS}/export")
    assert too_many.status_code == 422 and too_many.get_json()["message"].startswith("more than 5 vouchers match")
    assert owner.get(f"{VOUCHERS}/export", query_string={"party": "F"}).status_code == 200
    # Reading is what an export needs.
    writer = login(world["app"], "writer@acme.test")
    assert writer.get(f"{VOUCHERS}/export").status_code == 403


def test_xlsx_round_trip_export_then_import(world):
    owner, kernel = world["owner"], world["kernel"]
    exported = owner.get(f"{VOUCHERS}/export", query_string={"format": "xlsx", "sort": "party"})
    assert exported.status_code == 200
    sheet = load_workbook(io.BytesIO(exported.data)).active
    header = [c.value for c in sheet[1]]
    amount = sheet.cell(row=4, column=header.index("Amount") + 1)
    assert amount.value == 1234567.5 and amount.number_format == "#,##0.00"  # numeric, with its decimals
    # Into another tenant: the read-only columns are ignored, the rest imports exactly.
    imported = upload(world["zenith"], exported.data, "vouchers.xlsx")
    assert imported.status_code == 201, imported.get_json()
    assert imported.get_json()["data"]["ignored_columns"] == ["Id", "Number", "Cancelled", "Version"]
    again = world["zenith"].get(VOUCHERS, query_string={"sort": "party"}).get_json()["data"]
    original = owner.get(VOUCHERS, query_string={"sort": "party"}).get_json()["data"]
    keys = ("party", "amount", "issued_on", "hsn_code", "tax_rate")
    assert [{k: v[k] for k in keys} for v in again] == [{k: v[k] for k in keys} for v in original]
    assert [v["number"] for v in again] == ["V-0001", "V-0002", "V-0003"]  # the other tenant's own series
    del kernel


def test_csv_round_trip_keeps_text_that_looks_like_a_formula(world):
    owner = world["owner"]
    owner.post(VOUCHERS, json={"party": "=SUM(A1:A9)", "amount": "1.00", "issued_on": "2026-04-05"})
    exported = owner.get(f"{VOUCHERS}/export", query_string={"party": "=SUM(A1:A9)"})
    assert "'=SUM(A1:A9)" in exported.data.decode("utf-8-sig")
    imported = upload(world["zenith"], exported.data, "vouchers.csv")
    assert imported.status_code == 201, imported.get_json()
    assert world["zenith"].get(VOUCHERS).get_json()["data"][0]["party"] == "=SUM(A1:A9)"


def test_pdf_export_of_a_list(world):
    owner = world["owner"]
    response = owner.get(f"{VOUCHERS}/export", query_string={"format": "pdf", "sort": "-issued_on"})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    text = pdf_text(response.data)
    assert "Vouchers" in text and "Acme · 3 rows" in text
    assert text.index("Esha") < text.index("Dev") < text.index("Amit")
    assert "12,34,567.50" in text and "03-04-2026" in text
