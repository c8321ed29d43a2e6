"""File attachments: upload, list, download, delete; limits and sniffing; tenants, permissions, record rules; SDK."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select
from udyog_test_notes.models import Note
from udyog_test_notes.services import create_note, ensure_default_notebook

from udyog.app import create_app
from udyog.attachments import LocalStorage, allowed_types, clean_filename
from udyog.config import ConfigError
from udyog.models import Attachment, AuditEntry, Branch
from udyog.tenancy import create_branch, create_tenant
from udyog.testing import create_member, login
from udyog_sdk import UdyogError
from udyog_sdk.attachments import attach, delete, list_for, read

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
CSV = "code,name\nP1,Pune — मुख्य\n".encode()


def ooxml(member: str) -> bytes:
    """A minimal Office Open XML package holding ``member``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr(member, "<x/>")
    return buffer.getvalue()


@pytest.fixture
def world(kernel_factory, backend, tmp_path):
    kernel = kernel_factory(["notes"], backend=backend, attachments_dir=str(tmp_path / "files"))
    ids = {
        "acme": create_tenant(kernel, "acme", "Acme", plugins=["notes"]),
        "globex": create_tenant(kernel, "globex", "Globex", plugins=["notes"]),
        "plain": create_tenant(kernel, "plain", "Plain", plugins=[]),
    }
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    create_member(kernel, "acme", "member@acme.test", roles=("Member",))
    create_member(kernel, "globex", "owner@globex.test", roles=("Owner",))
    create_member(kernel, "plain", "owner@plain.test", roles=("Owner",))
    records = {}
    for slug in ("acme", "globex", "plain"):
        with kernel.tenant_scope(slug) as scope:
            branch = create_branch(scope.session, code="HQ", name="Head office")
            records[slug, "branch"] = str(branch.id)
            if slug != "plain":
                book = ensure_default_notebook()
                records[slug, "short"] = str(create_note(notebook_id=book.id, title="short", body="two words").id)
                records[slug, "long"] = str(
                    create_note(notebook_id=book.id, title="long", body="one two three four five six").id
                )
            scope.session.commit()
    app = create_app(kernel=kernel)
    return kernel, app, ids, records, tmp_path / "files"


def upload(client, entity, record_id, data, filename, content_type="application/octet-stream"):
    return client.post(
        f"/api/v1/core/attachments?entity={entity}&record_id={record_id}",
        data={"file": (io.BytesIO(data), filename, content_type)},
        content_type="multipart/form-data",
    )


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_upload_list_download_delete(world):
    kernel, app, ids, records, root = world
    owner = login(app, "owner@acme.test")
    note = records["acme", "short"]

    created = upload(owner, "notes_note", note, PDF, "Invoice März.pdf", "application/pdf")
    assert created.status_code == 201, created.get_json()
    data = created.get_json()["data"]
    assert data["filename"] == "Invoice März.pdf" and data["content_type"] == "application/pdf"
    assert data["size"] == len(PDF) and data["entity"] == "notes_note" and data["record_id"] == note
    import hashlib

    assert data["sha256"] == hashlib.sha256(PDF).hexdigest()
    upload(owner, "notes_note", note, PNG, "photo.png", "image/png")

    listed = owner.get(f"/api/v1/core/attachments?entity=notes_note&record_id={note}")
    assert listed.status_code == 200
    assert [a["filename"] for a in listed.get_json()["data"]] == ["photo.png", "Invoice März.pdf"]  # newest first
    paged = owner.get(f"/api/v1/core/attachments?entity=notes_note&record_id={note}&limit=1").get_json()
    assert paged["meta"]["pagination"]["has_more"] is True

    got = owner.get(f"/api/v1/core/attachments/{data['id']}/content")
    assert got.status_code == 200 and got.data == PDF
    assert got.headers["Content-Type"] == "application/pdf"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    disposition = got.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''Invoice%20M%C3%A4rz.pdf" in disposition
    assert owner.get(f"/api/v1/core/attachments/{data['id']}").get_json()["data"]["size"] == len(PDF)

    # The files live under the tenant's directory, named by random keys.
    files = stored_files(root)
    assert len(files) == 2
    assert all(f.parent.parent == root.resolve() / str(ids["acme"]) for f in files)
    assert all("Invoice" not in f.name and f.read_bytes() in (PDF, PNG) for f in files)

    # Audited like any ORM write.
    with kernel.tenant_scope("acme", write=False) as scope:
        actions = scope.session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "core_attachment", AuditEntry.record_id == data["id"])
        ).all()
    assert actions == ["insert"]

    gone = owner.delete(f"/api/v1/core/attachments/{data['id']}")
    assert gone.status_code == 200 and gone.get_json()["data"]["filename"] == "Invoice März.pdf"
    assert len(stored_files(root)) == 1  # the file went with the commit
    assert owner.get(f"/api/v1/core/attachments/{data['id']}/content").status_code == 404
    assert owner.delete(f"/api/v1/core/attachments/{data['id']}").status_code == 404
    listed = owner.get(f"/api/v1/core/attachments?entity=notes_note&record_id={note}").get_json()["data"]
    assert [a["filename"] for a in listed] == ["photo.png"]


def test_core_records_take_attachments_and_internal_tables_do_not(world):
    kernel, app, ids, records, root = world
    owner = login(app, "owner@acme.test")
    assert upload(owner, "core_branch", records["acme", "branch"], CSV, "stock.csv", "text/csv").status_code == 201
    for entity in ("core_audit", "core_attachment", "core_role", "core_job_run", "no_such_table", "core_tenant"):
        answer = upload(owner, entity, records["acme", "branch"], CSV, "stock.csv", "text/csv")
        assert answer.status_code == 404, entity
        assert "entity" in answer.get_json()["errors"]
    # A table of a plugin the tenant did not enable is no target there.
    plain = login(app, "owner@plain.test")
    answer = plain.get(f"/api/v1/core/attachments?entity=notes_note&record_id={records['acme', 'short']}")
    assert answer.status_code == 404 and "entity" in answer.get_json()["errors"]
    # A record id that does not exist, or is no id at all.
    for record_id in (str(uuid.uuid4()), "not-a-uuid"):
        answer = upload(owner, "notes_note", record_id, CSV, "stock.csv", "text/csv")
        assert answer.status_code == 404 and "record_id" in answer.get_json()["errors"]
    assert len(stored_files(root)) == 1


def test_size_limit_answers_413(kernel_factory, tmp_path):
    kernel = kernel_factory(["notes"], attachments_dir=str(tmp_path / "files"), attachment_max_bytes=1000)
    create_tenant(kernel, "acme", "Acme", plugins=["notes"])
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    with kernel.tenant_scope("acme") as scope:
        branch = str(create_branch(scope.session, code="HQ", name="HQ").id)
        scope.session.commit()
    owner = login(create_app(kernel=kernel), "owner@acme.test")
    assert upload(owner, "core_branch", branch, b"x" * 1000, "a.txt", "text/plain").status_code == 201
    too_large = upload(owner, "core_branch", branch, b"x" * 1001, "a.txt", "text/plain")
    assert too_large.status_code == 413 and too_large.get_json()["errors"]["file"] == ["at most 1000 bytes"]
    # A body far beyond the limit is refused before it is parsed.
    huge = upload(owner, "core_branch", branch, b"x" * 200_000, "a.txt", "text/plain")
    assert huge.status_code == 413 and huge.get_json()["success"] is False
    assert len(stored_files(tmp_path / "files")) == 1


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "why"),
    [
        (EXE, "invoice.pdf", "application/pdf", "looks like application/x-msdownload"),  # a renamed .exe
        (EXE, "readme.txt", "text/plain", "looks like application/x-msdownload"),
        (ELF, "data.csv", "text/csv", "looks like application/x-executable"),
        (b"a,b\n\x00\x01\x02", "data.csv", "text/csv", "is not text/csv"),
        (EXE, "setup.exe", "application/x-msdownload", "is not allowed"),
        (EXE, "setup.exe", "application/octet-stream", "are not allowed"),
        (PDF, "invoice.png", "image/png", "is not image/png"),
        (PDF, "invoice.png", "application/pdf", "must end in .pdf"),
        (PNG, "photo.jpg", "image/jpeg", "looks like image/png"),
        (ooxml("xl/workbook.xml"), "letter.docx", "application/octet-stream", "is not application/vnd"),
        (b"PK\x03\x04 not a zip at all", "sheet.xlsx", "application/octet-stream", "is not application/vnd"),
        (b"<html><script>alert(1)</script>", "page.html", "text/html", "is not allowed"),
    ],
)
def test_refused_types_answer_415(world, data, filename, content_type, why):
    kernel, app, ids, records, root = world
    owner = login(app, "owner@acme.test")
    answer = upload(owner, "core_branch", records["acme", "branch"], data, filename, content_type)
    assert answer.status_code == 415, answer.get_json()
    assert why in answer.get_json()["errors"]["file"][0]
    assert stored_files(root) == []


def test_accepted_types_are_sniffed_and_named_by_the_allow_list(world):
    kernel, app, ids, records, root = world
    owner = login(app, "owner@acme.test")
    branch = records["acme", "branch"]
    cases = [
        (ooxml("xl/workbook.xml"), "stock.xlsx", "application/octet-stream"),
        (ooxml("word/document.xml"), "letter.DOCX", ""),
        (PDF, "scan.pdf", "application/pdf; charset=binary"),
        (CSV, "parties.csv", "application/vnd.ms-excel"),  # what browsers on Windows send for .csv
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32), "photo.jpeg", "image/jpg"),
    ]
    types = []
    for data, filename, content_type in cases:
        answer = upload(owner, "core_branch", branch, data, filename, content_type)
        assert answer.status_code == 201, (filename, answer.get_json())
        types.append(answer.get_json()["data"]["content_type"])
    assert types == [
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/pdf",
        "text/csv",
        "image/jpeg",
    ]


def test_file_names_never_become_paths(world):
    kernel, app, ids, records, root = world
    owner = login(app, "owner@acme.test")
    answer = upload(owner, "core_branch", records["acme", "branch"], b"hi", "../../../etc/evil\x00.txt", "text/plain")
    assert answer.status_code == 201
    assert answer.get_json()["data"]["filename"] == "evil.txt"
    answer = upload(owner, "core_branch", records["acme", "branch"], b"hi", "..\\..\\win.txt", "text/plain")
    assert answer.get_json()["data"]["filename"] == "win.txt"
    assert all(root.resolve() / str(ids["acme"]) in f.parents for f in stored_files(root))
    assert not (root.parent / "etc").exists()
    assert clean_filename("x" * 300 + ".pdf").endswith(".pdf") and len(clean_filename("x" * 300 + ".pdf")) == 255
    with pytest.raises(UdyogError):
        clean_filename("/tmp/../")
    storage = LocalStorage(root)
    for key in ("../x", "a" * 31, "A" * 32, "/etc/passwd"):
        with pytest.raises(FileNotFoundError):
            storage.open(ids["acme"], key)


def test_bad_multipart_bodies_answer_4xx(world):
    kernel, app, ids, records, root = world
    owner = login(app, "owner@acme.test")
    url = f"/api/v1/core/attachments?entity=core_branch&record_id={records['acme', 'branch']}"
    assert owner.post(url, data={}, content_type="multipart/form-data").status_code == 422
    assert owner.post(url, data={"other": "x"}, content_type="multipart/form-data").status_code == 422
    assert owner.post(url, json={"file": "x"}).status_code in (415, 422)
    assert owner.post(url, data=b"\x00garbage", content_type="multipart/form-data; boundary=zz").status_code == 422
    assert upload(owner, "core_branch", records["acme", "branch"], b"", "empty.txt", "text/plain").status_code == 422
    assert upload(owner, "core_branch", records["acme", "branch"], b"x", "", "text/plain").status_code == 422
    assert owner.post("/api/v1/core/attachments", data={}, content_type="multipart/form-data").status_code == 422
    assert owner.get("/api/v1/core/attachments?entity=Bad-Name&record_id=1").status_code == 422
    assert stored_files(root) == []


def test_other_tenants_cannot_list_download_or_delete(world):
    kernel, app, ids, records, root = world
    owner = login(app, "owner@acme.test")
    attachment = upload(owner, "notes_note", records["acme", "short"], PDF, "a.pdf", "application/pdf").get_json()
    attachment_id = attachment["data"]["id"]
    thief = login(app, "owner@globex.test")
    for record in ("short", "branch"):
        entity = "core_branch" if record == "branch" else "notes_note"
        url = f"/api/v1/core/attachments?entity={entity}&record_id={records['acme', record]}"
        assert thief.get(url).status_code == 404
        assert upload(thief, entity, records["acme", record], PDF, "b.pdf", "application/pdf").status_code == 404
    assert thief.get(f"/api/v1/core/attachments/{attachment_id}").status_code == 404
    assert thief.get(f"/api/v1/core/attachments/{attachment_id}/content").status_code == 404
    assert thief.delete(f"/api/v1/core/attachments/{attachment_id}").status_code == 404
    # Globex's own files live in its own directory.
    assert upload(thief, "notes_note", records["globex", "short"], PNG, "g.png", "image/png").status_code == 201
    dirs = {f.parent.parent.name for f in stored_files(root)}
    assert dirs == {str(ids["acme"]), str(ids["globex"])}
    assert owner.get(f"/api/v1/core/attachments/{attachment_id}/content").data == PDF


def test_permissions_are_checked_and_named(world):
    kernel, app, ids, records, root = world
    owner = login(app, "owner@acme.test")
    branch, note = records["acme", "branch"], records["acme", "short"]
    on_branch = upload(owner, "core_branch", branch, CSV, "a.csv", "text/csv").get_json()["data"]["id"]
    on_note = upload(owner, "notes_note", note, CSV, "b.csv", "text/csv").get_json()["data"]["id"]

    # Member: core.attachment.read and core.branch.read, nothing of notes.
    member = login(app, "member@acme.test")
    assert member.get(f"/api/v1/core/attachments?entity=core_branch&record_id={branch}").status_code == 200
    assert member.get(f"/api/v1/core/attachments/{on_branch}/content").data == CSV
    refused = upload(member, "core_branch", branch, CSV, "c.csv", "text/csv")
    assert refused.status_code == 403 and refused.get_json()["errors"] == {"permission": ["core.attachment.write"]}
    refused = member.delete(f"/api/v1/core/attachments/{on_branch}")
    assert refused.status_code == 403 and refused.get_json()["errors"] == {"permission": ["core.attachment.delete"]}
    refused = member.get(f"/api/v1/core/attachments?entity=notes_note&record_id={note}")
    assert refused.status_code == 403 and refused.get_json()["errors"] == {"permission": ["notes.*"]}
    assert member.get(f"/api/v1/core/attachments/{on_note}/content").status_code == 403

    # A role with the attachment permissions but not the record's read permission.
    assert (
        owner.post("/api/v1/core/roles", json={"name": "Filer", "permissions": ["core.attachment.*"]}).status_code
        == 201
    )
    create_member(kernel, "acme", "filer@acme.test", roles=("Filer",))
    filer = login(app, "filer@acme.test")
    refused = upload(filer, "core_branch", branch, CSV, "c.csv", "text/csv")
    assert refused.status_code == 403 and refused.get_json()["errors"] == {"permission": ["core.branch.read"]}
    assert filer.delete(f"/api/v1/core/attachments/{on_branch}").status_code == 403
    assert len(stored_files(root)) == 2


def test_record_rules_decide_which_records_are_reachable(world):
    kernel, app, ids, records, root = world
    owner = login(app, "owner@acme.test")
    role = {
        "name": "Short Notes Clerk",
        "permissions": ["notes.note.read", "core.attachment.*"],
        "record_rules": ["notes.short_notes"],
    }
    assert owner.post("/api/v1/core/roles", json=role).status_code == 201
    create_member(kernel, "acme", "clerk@acme.test", roles=("Short Notes Clerk",))
    on_long = upload(owner, "notes_note", records["acme", "long"], PNG, "l.png", "image/png").get_json()["data"]["id"]
    clerk = login(app, "clerk@acme.test")
    short, long = records["acme", "short"], records["acme", "long"]
    assert upload(clerk, "notes_note", short, PNG, "s.png", "image/png").status_code == 201
    assert upload(clerk, "notes_note", long, PNG, "s.png", "image/png").status_code == 404
    assert clerk.get(f"/api/v1/core/attachments?entity=notes_note&record_id={long}").status_code == 404
    assert clerk.get(f"/api/v1/core/attachments/{on_long}").status_code == 404
    assert clerk.get(f"/api/v1/core/attachments/{on_long}/content").status_code == 404
    assert clerk.delete(f"/api/v1/core/attachments/{on_long}").status_code == 404
    listed = clerk.get(f"/api/v1/core/attachments?entity=notes_note&record_id={short}").get_json()["data"]
    assert [a["filename"] for a in listed] == ["s.png"]
    assert owner.get(f"/api/v1/core/attachments/{on_long}/content").data == PNG


def test_sdk_attach_list_read_delete_in_the_callers_transaction(world):
    kernel, app, ids, records, root = world
    with kernel.tenant_scope("acme") as scope:
        note = scope.session.scalar(select(Note).where(Note.title == "short"))
        first = attach(note, "minutes.txt", "text/plain", b"agreed")
        second = attach(note, "sheet.csv", "text/csv", io.BytesIO(CSV))
        scope.session.commit()
        assert [a.id for a in list_for(note)] == [second.id, first.id]
        assert read(first.id) == b"agreed" and first.uploaded_by is None and first.size == 6
        branch = scope.session.scalar(select(Branch))
        assert list_for(branch) == []
    assert len(stored_files(root)) == 2

    # Rolled back: no row, and the file written for it is removed.
    with kernel.tenant_scope("acme") as scope:
        note = scope.session.scalar(select(Note).where(Note.title == "short"))
        attach(note, "draft.txt", "text/plain", b"never")
        assert len(stored_files(root)) == 3
        scope.session.rollback()
    assert len(stored_files(root)) == 2
    with kernel.tenant_scope("acme") as scope:  # ended without a commit
        attach(scope.session.scalar(select(Branch)), "draft.txt", "text/plain", b"never")
    assert len(stored_files(root)) == 2

    # A pending record is flushed to get its id; limits apply as in the API.
    with kernel.tenant_scope("acme") as scope:
        book = ensure_default_notebook()
        fresh = Note(notebook_id=book.id, title="fresh", body="", words=0)
        scope.session.add(fresh)
        with pytest.raises(UdyogError) as refused:
            attach(fresh, "setup.pdf", "application/pdf", EXE)
        assert refused.value.status == 415
        with pytest.raises(TypeError):
            attach(object(), "a.txt", "text/plain", b"x")

    # Deleting: the row in the transaction, the file after the commit.
    with kernel.tenant_scope("acme") as scope:
        delete(first.id)
        assert len(stored_files(root)) == 2
        scope.session.commit()
    assert len(stored_files(root)) == 1
    with kernel.tenant_scope("globex") as scope, pytest.raises(UdyogError) as missing:
        read(second.id)
    assert missing.value.status == 404
    with kernel.tenant_scope("acme", write=False) as scope:
        assert scope.session.scalars(select(Attachment.filename)).all() == ["sheet.csv"]


def test_settings_choose_types_and_refuse_unknown_ones(kernel_factory, tmp_path):
    with pytest.raises(ConfigError):
        allowed_types(["application/pdf", "application/x-msdownload"])
    assert list(allowed_types(["text/csv"])) == ["text/csv"]
    kernel = kernel_factory([], attachment_types=("application/pdf",), attachments_dir=str(tmp_path / "f"))
    create_tenant(kernel, "acme", "Acme")
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    with kernel.tenant_scope("acme") as scope:
        branch = str(create_branch(scope.session, code="HQ", name="HQ").id)
        scope.session.commit()
    owner = login(create_app(kernel=kernel), "owner@acme.test")
    assert upload(owner, "core_branch", branch, PNG, "a.png", "image/png").status_code == 415
    assert upload(owner, "core_branch", branch, PDF, "a.pdf", "application/pdf").status_code == 201
    assert list((tmp_path / "f").iterdir()) != []


def test_settings_from_the_environment():
    from udyog.config import Settings

    settings = Settings.from_env(
        environ={
            "UDYOG_ATTACHMENTS_DIR": "/srv/files",
            "UDYOG_ATTACHMENT_MAX_BYTES": "1048576",
            "UDYOG_ATTACHMENT_TYPES": "application/pdf, Text/CSV",
        }
    )
    assert settings.attachments_dir == "/srv/files" and settings.attachment_max_bytes == 1048576
    assert settings.attachment_types == ("application/pdf", "text/csv")
    defaults = Settings.from_env(environ={})
    assert defaults.attachments_dir is None and defaults.attachment_max_bytes == 25 * 1024 * 1024
    assert defaults.attachment_types is None


def test_deleting_a_record_deletes_its_attachments_and_files(world):
    kernel, app, ids, records, root = world
    owner = login(app, "owner@acme.test")
    short, long = records["acme", "short"], records["acme", "long"]
    on_short = upload(owner, "notes_note", short, PNG, "s.png", "image/png").get_json()["data"]["id"]
    upload(owner, "notes_note", long, PDF, "l.pdf", "application/pdf")
    assert len(stored_files(root)) == 2

    # Rolled back: the attachment rows and files stay.
    with kernel.tenant_scope("acme") as scope:
        scope.session.delete(scope.session.scalar(select(Note).where(Note.title == "short")))
        scope.session.flush()
        scope.session.rollback()
    assert len(stored_files(root)) == 2

    with kernel.tenant_scope("acme") as scope:
        scope.session.delete(scope.session.scalar(select(Note).where(Note.title == "short")))
        scope.session.commit()
    with kernel.tenant_scope("acme", write=False) as scope:
        assert scope.session.scalars(select(Attachment.filename)).all() == ["l.pdf"]
        deleted = scope.session.scalars(
            select(AuditEntry.record_id).where(AuditEntry.entity == "core_attachment", AuditEntry.action == "delete")
        ).all()
    assert deleted == [on_short]
    assert [f.read_bytes() for f in stored_files(root)] == [PDF]
