"""The generic pages' shell parts: search, flashed messages, breadcrumbs, and the detail page's sections.

Search runs on the API's list (``?q=``) and the list page alike. The detail
page shows a record's files (upload, download, delete), its audit history and
the records of other resources that refer to it, each only to users who may
read it. The resources are the test plugins' (``ledger`` vouchers, ``notes``
notes and notebooks).
"""

from __future__ import annotations

import html
import io
import re
from typing import Any

import pytest

from udyog.app import create_app
from udyog.tenancy import create_tenant
from udyog.testing import create_member, form_token, login, web_login

PLUGINS = ["notes", "ledger"]


@pytest.fixture
def world(kernel_factory, backend):
    return _world(kernel_factory(PLUGINS, backend=backend))


@pytest.fixture
def sqlite_world(kernel_factory):
    return _world(kernel_factory(PLUGINS))


def _world(kernel: Any) -> dict[str, Any]:
    create_tenant(kernel, "acme", "Acme", plugins=PLUGINS)
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",), name="Asha Owner")
    app = create_app(kernel=kernel)
    owner = login(app, "owner@acme.test")
    # Reads notes and their files, nothing more: no upload, no delete, no audit log.
    reader = owner.post(
        "/api/v1/core/roles",
        json={"name": "Note Reader", "permissions": ["notes.note.read", "notes.notebook.read", "core.attachment.read"]},
    )
    assert reader.status_code == 201, reader.get_json()
    create_member(kernel, "acme", "reader@acme.test", roles=("Note Reader",))
    # Reads notes, but not their files.
    blind = owner.post("/api/v1/core/roles", json={"name": "Note Peeker", "permissions": ["notes.note.read"]})
    assert blind.status_code == 201, blind.get_json()
    create_member(kernel, "acme", "blind@acme.test", roles=("Note Peeker",))
    return {"kernel": kernel, "app": app, "owner": owner}


def voucher(client: Any, party: str, amount: str = "10.00", issued_on: str = "2026-04-01") -> dict[str, Any]:
    response = client.post("/api/v1/ledger/vouchers", json={"party": party, "amount": amount, "issued_on": issued_on})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]  # type: ignore[no-any-return]


def parties(text: str) -> list[str]:
    """The party column of the voucher list page, in order."""
    return [
        html.unescape(p)
        for p in re.findall(r'<tr data-id="[^"]+">\s*<td><a [^>]+>[^<]*</a></td>\s*<td>([^<]*)</td>', text)
    ]


def follow(client: Any, response: Any) -> Any:
    assert response.status_code == 303, response.text[:2000]
    return client.get(response.headers["Location"])


# -- search ------------------------------------------------------------------------------


def test_search_is_case_insensitive_literal_and_combines_with_filters_sort_and_pages(world):
    owner = world["owner"]
    for day, party in enumerate(["Ravi Traders", "50% Off Mart", "500 Off Mart", "a_b Stores", "axb Stores"], 1):
        voucher(owner, party, issued_on=f"2026-04-0{day}")

    def api(**query: Any) -> list[str]:
        body = owner.get("/api/v1/ledger/vouchers", query_string=query).get_json()
        assert body["success"], body
        return [row["party"] for row in body["data"]]

    assert api(q="ravi") == ["Ravi Traders"]
    assert api(q="RAVI", sort="party") == ["Ravi Traders"]
    assert api(q="%", sort="party") == ["50% Off Mart"]  # % is a character, not a wildcard
    assert api(q="_", sort="party") == ["a_b Stores"]  # so is _
    assert api(q="v-000", sort="number") == ["Ravi Traders", "50% Off Mart", "500 Off Mart", "a_b Stores", "axb Stores"]
    assert api(q="  ", sort="party") == sorted(api(sort="party"))  # blank: no search
    # With a filter, a sort and keyset pages: each page keeps to the search.
    seen: list[str] = []
    query: dict[str, Any] = {"q": "off", "cancelled": "false", "sort": "-party", "limit": 1}
    while True:
        body = owner.get("/api/v1/ledger/vouchers", query_string=query).get_json()
        seen += [row["party"] for row in body["data"]]
        cursor = body["meta"]["pagination"]["next_cursor"]
        if cursor is None:
            break
        query["cursor"] = cursor
    assert seen == ["500 Off Mart", "50% Off Mart"]
    assert api(q="off", party="500 Off Mart") == ["500 Off Mart"]
    too_long = owner.get("/api/v1/ledger/vouchers", query_string={"q": "x" * 201})
    assert too_long.status_code == 422 and "q" in too_long.get_json()["errors"]
    # Notes search their title and body; notebooks declare no body.
    book = owner.get("/api/v1/notes/notebooks").get_json()["data"][0]
    owner.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "Plain", "body": "mentions GST"})
    owner.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "GST return"})
    owner.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "Other"})
    found = owner.get("/api/v1/notes/notes", query_string={"q": "gst"}).get_json()["data"]
    assert sorted(n["title"] for n in found) == ["GST return", "Plain"]
    # The OpenAPI document names the parameter and where it looks.
    spec = owner.get("/api/openapi.json").get_json()
    params = {p["name"]: p for p in spec["paths"]["/api/v1/ledger/vouchers"]["get"]["parameters"]}
    assert "party" in params["q"]["description"] and "number" in params["q"]["description"]


def test_the_list_page_searches_like_the_api(sqlite_world):
    owner, app = sqlite_world["owner"], sqlite_world["app"]
    for day, party in enumerate(["Ravi Traders", "50% Off Mart", "500 Off Mart", "Dev & Sons"], 1):
        voucher(owner, party, issued_on=f"2026-04-0{day}")
    web = web_login(app, "owner@acme.test")
    page = web.get("/ledger/vouchers", query_string={"q": "50%", "sort": "party"})
    assert page.status_code == 200
    assert 'id="resource-search"' in page.text and 'value="50%"' in page.text
    assert parties(page.text) == ["50% Off Mart"]
    # Search, filter, sort and "next page" together: the next link keeps the search.
    first = web.get("/ledger/vouchers", query_string={"q": "OFF", "sort": "party", "limit": 1, "cancelled": "false"})
    assert parties(first.text) == ["50% Off Mart"]
    next_url = html.unescape(re.search(r'href="([^"]+)" id="page-next"', first.text).group(1))
    assert "q=OFF" in next_url
    second = web.get(next_url)
    assert parties(second.text) == ["500 Off Mart"] and 'id="page-next"' not in second.text
    # The export links export what the list shows.
    assert "q=OFF" in html.unescape(re.search(r'href="([^"]+format=csv[^"]*)"', first.text).group(1))
    exported = web.get(html.unescape(re.search(r'href="([^"]+format=csv[^"]*)"', first.text).group(1)))
    assert exported.status_code == 200 and "Off Mart" in exported.text and "Ravi" not in exported.text
    bad = web.get("/ledger/vouchers", query_string={"q": "x" * 201})
    assert bad.status_code == 422 and "is-invalid" in bad.text
    # Notebooks search their titles only, and say so.
    assert "Looks in: Title<" in web.get("/notes/notebooks").text


# -- flashed messages and breadcrumbs -----------------------------------------------------


def test_saving_flashes_a_message_and_every_page_has_breadcrumbs(sqlite_world):
    owner, app = sqlite_world["owner"], sqlite_world["app"]
    web = web_login(app, "owner@acme.test")
    listing = web.get("/ledger/vouchers")
    crumbs = re.search(r'<nav aria-label="Breadcrumb" id="udyog-breadcrumbs">(.*?)</nav>', listing.text, re.S)
    assert crumbs is not None and "Ledger" in crumbs.group(1) and "Vouchers" in crumbs.group(1)
    form = web.get("/ledger/vouchers/new")
    assert 'href="/ledger/vouchers">Vouchers</a>' in form.text and 'aria-current="page">New</li>' in form.text
    token = form_token(form.text)
    data = {"csrf_token": token, "party": "Ravi", "amount": "12.00", "issued_on": "2026-05-01"}
    detail = follow(web, web.post("/ledger/vouchers/new", data=data))
    assert 'id="udyog-flash"' in detail.text and "Voucher V-0001 created." in detail.text
    assert 'aria-current="page">V-0001</li>' in detail.text
    # Shown once: the next page has no message.
    again = web.get(detail.request.path)
    assert "created." not in again.text
    made = owner.get("/api/v1/ledger/vouchers").get_json()["data"][0]
    edit = web.get(f"/ledger/vouchers/{made['id']}/edit")
    assert (
        f'href="/ledger/vouchers/{made["id"]}">V-0001</a>' in edit.text and 'aria-current="page">Edit</li>' in edit.text
    )
    saved = follow(
        web, web.post(f"/ledger/vouchers/{made['id']}/edit", data={**data, "version": "1", "party": "Ravi & Co"})
    )
    assert "Voucher V-0001 saved." in saved.text
    ask = web.get(f"/ledger/vouchers/{made['id']}/cancel")
    assert 'aria-current="page">Cancel</li>' in ask.text
    cancelled = follow(
        web, web.post(f"/ledger/vouchers/{made['id']}/cancel", data={"csrf_token": token, "version": "2"})
    )
    assert "Voucher V-0001 cancelled." in cancelled.text
    book = owner.post("/api/v1/notes/notebooks", json={"title": "Scratch"}).get_json()["data"]
    gone = follow(web, web.post(f"/notes/notebooks/{book['id']}/delete", data={"csrf_token": token}))
    assert "Notebook Scratch deleted." in gone.text
    imported = web.get("/ledger/vouchers/import")
    assert 'aria-current="page">Import</li>' in imported.text
    # A failed save flashes nothing and answers 422 with the form.
    bad = web.post("/ledger/vouchers/new", data={**data, "party": ""})
    assert bad.status_code == 422 and 'id="udyog-flash"' not in bad.text


# -- the detail page: files ---------------------------------------------------------------


def _note(owner: Any, title: str = "Quarterly") -> dict[str, Any]:
    book = owner.get("/api/v1/notes/notebooks").get_json()["data"][0]
    made = owner.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": title})
    assert made.status_code == 201, made.get_json()
    return made.get_json()["data"]  # type: ignore[no-any-return]


def _upload(web: Any, url: str, token: str, content: bytes, name: str, mimetype: str = "text/plain") -> Any:
    return web.post(
        url,
        data={"csrf_token": token, "file": (io.BytesIO(content), name, mimetype)},
        content_type="multipart/form-data",
    )


def test_files_are_listed_uploaded_downloaded_and_deleted_on_the_detail_page(world):
    owner, app = world["owner"], world["app"]
    note = _note(owner)
    url = f"/notes/notes/{note['id']}"
    web = web_login(app, "owner@acme.test")
    detail = web.get(url)
    assert 'id="attachments"' in detail.text and "No files attached." in detail.text
    assert 'id="attachment-upload"' in detail.text and 'enctype="multipart/form-data"' in detail.text
    token = form_token(detail.text)
    shown = follow(web, _upload(web, f"{url}/attachments", token, b"minutes of the meeting\n", "minutes.txt"))
    assert "File minutes.txt attached to Note Quarterly." in shown.text
    row = re.search(r'<tr data-attachment-id="([^"]+)">(.*?)</tr>', shown.text, re.S)
    assert row is not None and "minutes.txt" in row.group(2) and "23 bytes" in row.group(2)
    assert "Asha Owner" in row.group(2)
    attachment_id = row.group(1)
    download = re.search(r'<a href="([^"]+)" download>minutes.txt</a>', shown.text).group(1)
    got = web.get(download)
    assert got.status_code == 200 and got.data == b"minutes of the meeting\n"
    assert "attachment" in got.headers["Content-Disposition"]
    # The API lists the same file.
    listed = owner.get("/api/v1/core/attachments", query_string={"entity": "notes_note", "record_id": note["id"]})
    assert [a["filename"] for a in listed.get_json()["data"]] == ["minutes.txt"]
    # A refused file is explained next to the input; nothing is stored.
    bad = _upload(web, f"{url}/attachments", token, b"MZ\x90\x00binary", "tool.exe", "application/x-msdownload")
    assert bad.status_code == 415 and "is-invalid" in bad.text and "not allowed" in bad.text
    empty = web.post(f"{url}/attachments", data={"csrf_token": token}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "Choose a file to upload." in empty.text
    forged = _upload(web, f"{url}/attachments", "forged", b"x\n", "x.txt")
    assert forged.status_code == 400
    # Deleting asks first.
    ask = web.get(f"{url}/attachments/{attachment_id}/delete")
    assert ask.status_code == 200 and "minutes.txt" in ask.text and 'aria-current="page">Delete file</li>' in ask.text
    assert (
        len(
            owner.get(
                "/api/v1/core/attachments", query_string={"entity": "notes_note", "record_id": note["id"]}
            ).get_json()["data"]
        )
        == 1
    )
    deleted = follow(web, web.post(f"{url}/attachments/{attachment_id}/delete", data={"csrf_token": token}))
    assert "File minutes.txt deleted from Note Quarterly." in deleted.text and "No files attached." in deleted.text
    listed = owner.get("/api/v1/core/attachments", query_string={"entity": "notes_note", "record_id": note["id"]})
    assert listed.get_json()["data"] == []
    # A file of another record is not reachable through this record's page.
    other = _note(owner, "Other")
    follow(web, _upload(web, f"/notes/notes/{other['id']}/attachments", token, b"other\n", "other.txt"))
    theirs = owner.get("/api/v1/core/attachments", query_string={"entity": "notes_note", "record_id": other["id"]})
    their_id = theirs.get_json()["data"][0]["id"]
    assert web.get(f"{url}/attachments/{their_id}/delete").status_code == 404


def test_files_need_their_permissions(sqlite_world):
    owner, app = sqlite_world["owner"], sqlite_world["app"]
    note = _note(owner)
    url = f"/notes/notes/{note['id']}"
    web = web_login(app, "owner@acme.test")
    token = form_token(web.get(url).text)
    follow(web, _upload(web, f"{url}/attachments", token, b"kept\n", "kept.txt"))
    attachment_id = owner.get(
        "/api/v1/core/attachments", query_string={"entity": "notes_note", "record_id": note["id"]}
    ).get_json()["data"][0]["id"]
    # A reader sees and downloads files, but has no upload form and no delete button, and is refused both.
    reader = web_login(app, "reader@acme.test")
    page = reader.get(url)
    assert page.status_code == 200 and "kept.txt" in page.text
    assert 'id="attachment-upload"' not in page.text and "/delete" not in page.text
    token = form_token(page.text)
    refused = _upload(reader, f"{url}/attachments", token, b"mine\n", "mine.txt")
    assert refused.status_code == 403 and "core.attachment.write" in refused.text
    assert reader.get(f"{url}/attachments/{attachment_id}/delete").status_code == 403
    denied = reader.post(f"{url}/attachments/{attachment_id}/delete", data={"csrf_token": token})
    assert denied.status_code == 403 and "core.attachment.delete" in denied.text
    listed = owner.get("/api/v1/core/attachments", query_string={"entity": "notes_note", "record_id": note["id"]})
    assert [a["filename"] for a in listed.get_json()["data"]] == ["kept.txt"]
    # Without core.attachment.read there is no files section at all.
    blind = web_login(app, "blind@acme.test")
    page = blind.get(url)
    assert page.status_code == 200 and 'id="attachments"' not in page.text and "kept.txt" not in page.text


# -- the detail page: history and related records ------------------------------------------


def test_the_detail_page_shows_the_audit_history_to_those_who_may_read_it(sqlite_world):
    owner, app = sqlite_world["owner"], sqlite_world["app"]
    note = _note(owner, "Draft")
    version = note["version"]
    for title in ("Second", "Third"):
        changed = owner.patch(f"/api/v1/notes/notes/{note['id']}", json={"title": title, "version": version})
        version = changed.get_json()["data"]["version"]
    web = web_login(app, "owner@acme.test")
    page = web.get(f"/notes/notes/{note['id']}")
    section = re.search(r'<section class="card mb-3" id="history".*?</section>', page.text, re.S).group(0)
    actions = re.findall(r'data-action="(\w+)"', section)
    assert actions == ["update", "update", "insert"]  # newest first
    assert "Asha Owner" in section
    first = section.index("Second</span> → Third")
    assert first < section.index("Draft</span> → Second")
    assert 'id="history-more"' not in section
    # More changes than the page shows: a link shows them all.
    for n in range(12):
        changed = owner.patch(f"/api/v1/notes/notes/{note['id']}", json={"title": f"T{n}", "version": version})
        version = changed.get_json()["data"]["version"]
    page = web.get(f"/notes/notes/{note['id']}")
    section = re.search(r'id="history".*?</section>', page.text, re.S).group(0)
    assert len(re.findall(r'data-action="', section)) == 10 and 'id="history-more"' in section
    more = html.unescape(re.search(r'href="([^"]+)" id="history-more"', section).group(1))
    assert more == f"/core/audit?entity=notes_note&record_id={note['id']}"
    everything = web.get(more)  # the audit log page, filtered to this record
    assert everything.status_code == 200 and len(re.findall(r'data-change="update"', everything.text)) == 14
    # Who lacks core.audit.read sees no history.
    reader = web_login(app, "reader@acme.test")
    assert 'id="history"' not in reader.get(f"/notes/notes/{note['id']}").text


def test_the_detail_page_lists_related_records(sqlite_world):
    owner, app = sqlite_world["owner"], sqlite_world["app"]
    book = owner.post("/api/v1/notes/notebooks", json={"title": "Projects"}).get_json()["data"]
    for n in range(7):
        owner.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": f"Task {n}"})
    elsewhere = _note(owner, "Not here")
    web = web_login(app, "owner@acme.test")
    page = web.get(f"/notes/notebooks/{book['id']}")
    section = re.search(r'<section class="card mb-3" id="related-notes-note-notebook_id".*?</section>', page.text, re.S)
    assert section is not None
    text = section.group(0)
    titles = re.findall(r'<a href="/notes/notes/[^"]+">(Task \d)</a>', text)
    assert titles == ["Task 0", "Task 1", "Task 2", "Task 3", "Task 4"]  # the first five, in the list's order
    assert "Not here" not in text and elsewhere["id"] not in text
    assert ">Notebook<" not in text  # the column that points here is left out
    link = html.unescape(re.search(r'href="([^"]+)" id="related-notes-note-notebook_id-all"', text).group(1))
    assert link == f"/notes/notes?notebook_id={book['id']}"
    assert len(re.findall(r'data-id="', web.get(link).text)) == 7
    # Who may not read notes sees no such section.
    owner.post("/api/v1/core/roles", json={"name": "Notebook Peeker", "permissions": ["notes.notebook.read"]})
    create_member(sqlite_world["kernel"], "acme", "bookish@acme.test", roles=("Notebook Peeker",))
    bookish = web_login(app, "bookish@acme.test")
    page = bookish.get(f"/notes/notebooks/{book['id']}")
    assert page.status_code == 200 and "related-notes" not in page.text
