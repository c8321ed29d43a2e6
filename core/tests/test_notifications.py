"""Notifications: templates, the inbox API and page, e-mail through a real SMTP server, gateways, delivery."""

from __future__ import annotations

import socket
import uuid
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select, update

from udyog.app import create_app
from udyog.config import Settings
from udyog.models import JobRun, Notification, NotificationDelivery, OutboxEvent, Tenant, User
from udyog.notifications import (
    LISTENER_NAME,
    MAX_ATTEMPTS,
    QUEUED_EVENT,
    LoggingGateway,
    build_catalog,
    channels_for,
    deliver,
    load_gateway,
    template_catalog,
    tenant_language,
)
from udyog.tenancy import create_tenant
from udyog.testing import create_member, execute_run, login, web_login
from udyog_sdk import NotificationTemplate, TenantContext, notify
from udyog_sdk.notifications import MessageGateway

EVENT = "notes.note.shared"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message, session.authenticated))
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on a free local port, in a thread of this process."""

    def __init__(self, **kwargs: Any) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.kwargs = kwargs
        self.controller: Controller | None = None

    def start(self) -> None:
        # A Controller cannot start again once stopped: a new one takes the same port.
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **self.kwargs)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[Any]:
        return self.mailbox.messages


def text_of(message: Any) -> str:
    return message.get_content().replace("\r\n", "\n").strip()


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


class Recorder:
    """A gateway that records what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, to: str, text: str) -> None:
        self.sent.append((to, text))


@pytest.fixture
def kernel(kernel_factory, backend, smtp):
    kernel = kernel_factory(["notes"], backend=backend, smtp_host="127.0.0.1", smtp_port=smtp.port, jobs_eager=True)
    create_tenant(kernel, "acme", "Acme Foods", plugins=["notes"])
    create_tenant(kernel, "other", "Other Co", plugins=["notes"])
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",), name="Asha Owner")
    create_member(kernel, "acme", "reader@acme.test", roles=("Reader",), name="Ravi Reader")
    create_member(kernel, "acme", "member@acme.test", roles=("Member",), name="Meera Member")
    create_member(kernel, "other", "owner@other.test", roles=("Owner",))
    return kernel


def set_language(kernel, slug: str, language: str) -> None:
    with kernel.db.session() as session:
        session.execute(
            update(Tenant)
            .where(Tenant.slug == slug)
            .values(
                settings={"core": {"version": 1, "values": {"language": language}}},
                settings_rev=Tenant.settings_rev + 1,
            )
        )
        session.commit()


def share(kernel, slug="acme", *, commit=True, **kwargs):
    with kernel.tenant_scope(slug) as scope:
        result = notify(EVENT, {"title": "Price list", "by": "Asha", "excerpt": "New rates"}, **kwargs)
        if commit:
            scope.session.commit()
        else:
            scope.session.rollback()
    return result


def rows(kernel, model):
    with kernel.db.session(all_tenants=True, write=False) as session:
        return session.scalars(select(model)).all()


def user_id(kernel, email):
    with kernel.db.session(all_tenants=True, write=False) as session:
        return session.scalar(select(User.id).where(User.email == email))


# -- notify, languages, e-mail ----------------------------------------------------------------


def test_permission_holders_get_an_in_app_notification_and_an_email_after_commit(kernel, smtp):
    result = share(kernel, link="/notes/1")
    notes = sorted(rows(kernel, Notification), key=lambda n: n.title + str(n.user_id))
    recipients = {n.user_id for n in notes}
    assert recipients == {user_id(kernel, "owner@acme.test"), user_id(kernel, "reader@acme.test")}
    assert len(result.notifications) == 2 and len(result.deliveries) == 2 and result.language == "en"
    assert {n.title for n in notes} == {"Asha shared “Price list”"}
    assert all(n.body == "New rates" and n.link == "/notes/1" and n.in_app and n.read_at is None for n in notes)
    # The e-mails were delivered through the real SMTP server when the transaction committed.
    delivered = sorted(smtp.messages, key=lambda m: m[0])
    assert [m[0] for m in delivered] == [["owner@acme.test"], ["reader@acme.test"]]
    to, message, _ = delivered[1]
    assert message["Subject"] == "Note shared: Price list"
    assert message["To"] == "reader@acme.test" and message["From"] == "udyog@localhost"
    assert message["Content-Language"] == "en"
    assert text_of(message) == "Dear Ravi Reader,\n\nAsha shared the note “Price list” in Acme Foods."
    email_rows = [d for d in rows(kernel, NotificationDelivery) if d.channel == "email"]
    assert {d.status for d in email_rows} == {"sent"} and all(d.attempts == 1 and d.sent_at for d in email_rows)
    # The member without notes.note.read got nothing.
    assert user_id(kernel, "member@acme.test") not in recipients


def test_permission_holders_follow_a_change_of_roles_in_the_same_and_in_later_transactions(kernel, smtp):
    """The roles granting a permission are cached per security revision; a transaction that changed roles
    itself (its scope read the revision before) reads them afresh."""
    from udyog.models import Role
    from udyog.rbac import bump_security

    member = user_id(kernel, "member@acme.test")
    before = share(kernel)  # Member does not grant notes.note.read
    assert member not in {n.user_id for n in rows(kernel, Notification) if n.id in before.notifications}
    with kernel.tenant_scope("acme") as scope:
        role = scope.session.scalar(select(Role).where(Role.name == "Member"))
        role.permissions = sorted({*role.permissions, "notes.note.read"})
        scope.session.flush()
        bump_security(scope.session)
        same = notify(EVENT, {"title": "Price list", "by": "Asha", "excerpt": "New rates"})
        scope.session.commit()
    later = share(kernel)
    by_id = {n.id: n.user_id for n in rows(kernel, Notification)}
    for result in (same, later):
        assert {by_id[n] for n in result.notifications} == {
            user_id(kernel, "owner@acme.test"),
            user_id(kernel, "reader@acme.test"),
            member,
        }


def test_a_rolled_back_transaction_records_and_sends_nothing(kernel, smtp):
    share(kernel, commit=False)
    assert rows(kernel, Notification) == [] and rows(kernel, NotificationDelivery) == []
    assert rows(kernel, OutboxEvent) == [] and smtp.messages == []


def test_the_tenants_language_picks_the_template_and_falls_back_to_english(kernel, smtp):
    set_language(kernel, "acme", "hi")
    result = share(kernel, users=[user_id(kernel, "reader@acme.test")])
    [(to, message, _)] = smtp.messages
    assert to == ["reader@acme.test"]
    assert message["Subject"] == "नोट साझा किया गया: Price list"
    assert message["Content-Language"] == "hi"
    assert "प्रिय Ravi Reader" in text_of(message)
    # No Hindi in-app template: the English one is used.
    [note] = rows(kernel, Notification)
    assert note.title == "Asha shared “Price list”" and result.language == "en"
    [email] = [d for d in rows(kernel, NotificationDelivery) if d.channel == "email"]
    assert email.language == "hi"


def test_language_comes_from_the_core_settings_else_english():
    def ctx(settings):
        return TenantContext(id=uuid.uuid4(), slug="x", name="X", timezone="Asia/Kolkata", settings=settings)

    assert tenant_language(ctx({})) == "en"
    assert tenant_language(ctx({"core": {"language": "mr"}})) == "mr"
    assert tenant_language(ctx({"core": {"language": "hi_IN"}})) == "hi-IN"
    assert tenant_language(ctx({"core": {"language": "not a tag!"}})) == "en"
    assert tenant_language(ctx({"language": "mr"})) == "en"  # settings are keyed by plugin


def test_explicit_users_must_be_active_members_of_the_tenant(kernel, smtp):
    outsider = user_id(kernel, "owner@other.test")
    member = user_id(kernel, "member@acme.test")
    result = share(kernel, users=[outsider, member, uuid.uuid4()])
    assert [n.user_id for n in rows(kernel, Notification)] == [member]
    assert len(result.notifications) == 1
    assert [m[0] for m in smtp.messages] == [["member@acme.test"]]


def test_recipients_by_role_name_are_the_roles_active_members(kernel, smtp):
    share(kernel, roles=["Member", "No Such Role"])
    assert [n.user_id for n in rows(kernel, Notification)] == [user_id(kernel, "member@acme.test")]
    share(kernel, roles="Reader", users=[user_id(kernel, "owner@acme.test")])  # a single name; union with users
    assert {n.user_id for n in rows(kernel, Notification)} == {
        user_id(kernel, n) for n in ("member@acme.test", "reader@acme.test", "owner@acme.test")
    }
    before = len(rows(kernel, Notification))
    assert not share(kernel, roles=[]).notifications  # nobody named: nobody (not the default permission)
    assert len(rows(kernel, Notification)) == before


def test_notify_refuses_undeclared_events_bad_links_and_objects(kernel):
    with kernel.tenant_scope("acme"):
        with pytest.raises(ValueError, match="no enabled plugin"):
            notify("notes.note.unknown", {})
        with pytest.raises(ValueError, match="path of this site"):
            notify(EVENT, {"title": "x"}, link="https://evil.example/")
        with pytest.raises(TypeError, match="plain JSON"):
            notify(EVENT, {"when": object()})
        with pytest.raises(ValueError, match="not declared"):
            notify(EVENT, {}, permission="notes.nothing.here")


def test_smtp_user_and_password_are_used(kernel_factory, tmp_path):
    seen: list[tuple[str, str]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret")

    server = SmtpServer(authenticator=authenticator, auth_require_tls=False)
    server.start()
    try:
        kernel = kernel_factory(
            ["notes"],
            smtp_host="127.0.0.1",
            smtp_port=server.port,
            smtp_user="mailer",
            smtp_password="s3cret",
            smtp_from="erp@acme.test",
            jobs_eager=True,
        )
        create_tenant(kernel, "acme", "Acme Foods", plugins=["notes"])
        create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
        share(kernel)
    finally:
        server.stop()
    assert seen == [("mailer", "s3cret")]
    [(to, message, authenticated)] = server.messages
    assert authenticated and message["From"] == "erp@acme.test"
    assert message["Message-ID"].endswith("@acme.test>")


def test_smtp_settings_come_from_the_environment():
    env = {
        "UDYOG_SMTP_HOST": "mail.example",
        "UDYOG_SMTP_PORT": "2525",
        "UDYOG_SMTP_USER": "u",
        "UDYOG_SMTP_PASSWORD": "p",
        "UDYOG_SMTP_FROM": "erp@example.com",
        "UDYOG_SMTP_STARTTLS": "yes",
        "UDYOG_SMS_GATEWAY": "udyog.notifications:LoggingGateway",
    }
    settings = Settings.from_env(environ=env)
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_user, settings.smtp_password) == (
        "mail.example",
        2525,
        "u",
        "p",
    )
    assert settings.smtp_from == "erp@example.com" and settings.smtp_starttls is True
    assert settings.sms_gateway == "udyog.notifications:LoggingGateway" and settings.whatsapp_gateway == "log"
    defaults = Settings.from_env(environ={})
    assert defaults.smtp_host is None and defaults.smtp_port == 25 and defaults.smtp_starttls is False


# -- delivery: idempotent, retried, failed ---------------------------------------------------


def test_deliver_never_sends_twice(kernel, smtp):
    share(kernel, users=[user_id(kernel, "reader@acme.test")])
    assert len(smtp.messages) == 1
    [delivery] = [d for d in rows(kernel, NotificationDelivery) if d.channel == "email"]
    assert deliver(kernel, delivery.tenant_id, delivery.id) == "sent"
    assert deliver(kernel, delivery.tenant_id, delivery.id) == "sent"
    # The outbox redelivering the event (at least once) sends nothing more either.
    [event] = [e for e in rows(kernel, OutboxEvent) if e.name == QUEUED_EVENT]
    with kernel.db.session(all_tenants=True) as session:
        session.execute(update(OutboxEvent).values(dispatched_at=None))
        session.commit()
    assert kernel.dispatcher.dispatch_pending() == 1
    assert len(smtp.messages) == 1
    assert deliver(kernel, delivery.tenant_id, uuid.uuid4()) == "missing"
    assert event.payload["deliveries"] == [str(delivery.id)]


@pytest.fixture
def stepped(kernel_factory, smtp):
    """A kernel whose jobs wait in the queue; the test executes their attempts one by one."""
    kernel = kernel_factory(["notes"], smtp_host="127.0.0.1", smtp_port=smtp.port)
    create_tenant(kernel, "acme", "Acme Foods", plugins=["notes"])
    create_member(kernel, "acme", "reader@acme.test", roles=("Reader",), name="Ravi Reader")
    return kernel


def delivery_run(kernel):
    [run] = [r for r in rows(kernel, JobRun) if r.task == "core.deliver_event"]
    return run


def test_the_sending_run_is_queued_in_the_notifying_transaction_as_system_work(stepped):
    """``core.notification.queued`` has only a background listener: its run is queued at the commit itself.

    The event is written delivered and never claimed (a delivery after the
    commit would have claimed it: one attempt). The run is the system's, not
    the notifying user's (as a run queued after the commit is).
    """
    from udyog_sdk import Principal

    kernel = stepped
    reader = user_id(kernel, "reader@acme.test")
    with kernel.tenant_scope("acme") as base:
        acting = Principal(reader, base.tenant.id, "reader@acme.test", "Ravi", permissions=frozenset({"*"}))
        with kernel.bound(base.tenant, base.session, user=acting) as scope:
            notify(EVENT, {"title": "Price list", "by": "Asha", "excerpt": "New rates"}, users=[reader])
            scope.session.commit()
    run = delivery_run(kernel)
    assert run.state == "queued" and run.kwargs["listener"] == LISTENER_NAME and run.user_id is None
    [event] = [e for e in rows(kernel, OutboxEvent) if e.name == QUEUED_EVENT]
    assert event.dispatched_at is not None and event.attempts == 0 and event.claimed_at is None
    assert run.kwargs["event_id"] == str(event.id)


def test_a_notification_rolled_back_with_its_savepoint_queues_nothing(stepped):
    kernel = stepped
    reader = user_id(kernel, "reader@acme.test")
    with kernel.tenant_scope("acme") as scope:
        with scope.session.begin_nested() as savepoint:
            notify(EVENT, {"title": "Draft", "by": "Asha", "excerpt": "x"}, users=[reader])
            savepoint.rollback()
        notify(EVENT, {"title": "Kept", "by": "Asha", "excerpt": "y"}, users=[reader])
        scope.session.commit()
    [event] = [e for e in rows(kernel, OutboxEvent) if e.name == QUEUED_EVENT]
    [run] = [r for r in rows(kernel, JobRun) if r.task == "core.deliver_event"]
    assert run.kwargs["event_id"] == str(event.id)
    assert [n.title for n in rows(kernel, Notification)] == ["Asha shared “Kept”"]


def test_a_failing_server_leaves_the_delivery_pending_and_a_retry_sends_it(stepped, smtp):
    kernel = stepped
    smtp.stop()  # the server is down
    share(kernel, users=[user_id(kernel, "reader@acme.test")])
    # The request only queued the sending: a worker does it.
    run = delivery_run(kernel)
    assert run.state == "queued" and run.kwargs["listener"] == LISTENER_NAME
    [event] = [e for e in rows(kernel, OutboxEvent) if e.name == QUEUED_EVENT]
    assert event.dispatched_at is not None  # handed over to the job
    assert execute_run(kernel, run.tenant_id, run.id) == "retrying"
    [delivery] = [d for d in rows(kernel, NotificationDelivery) if d.channel == "email"]
    assert delivery.status == "pending" and delivery.attempts == 1 and "Error" in (delivery.last_error or "")
    run = delivery_run(kernel)
    assert run.state == "retrying" and "still pending" in run.error and run.eta is not None
    # The notification itself was committed with the business transaction.
    assert len(rows(kernel, Notification)) == 1
    smtp.start()
    assert execute_run(kernel, run.tenant_id, run.id) == "succeeded"
    [delivery] = [d for d in rows(kernel, NotificationDelivery) if d.channel == "email"]
    assert delivery.status == "sent" and delivery.attempts == 2 and delivery.last_error is None
    assert [m[0] for m in smtp.messages] == [["reader@acme.test"]]
    assert delivery_run(kernel).state == "succeeded"


def test_a_delivery_is_given_up_after_the_last_attempt(stepped, smtp):
    kernel = stepped
    smtp.stop()
    share(kernel, users=[user_id(kernel, "reader@acme.test")])
    run = delivery_run(kernel)
    outcomes = [execute_run(kernel, run.tenant_id, run.id) for _ in range(MAX_ATTEMPTS)]
    # The job retries while the delivery is pending; the last attempt gives the delivery up.
    assert outcomes == ["retrying"] * (MAX_ATTEMPTS - 1) + ["succeeded"]
    [delivery] = [d for d in rows(kernel, NotificationDelivery) if d.channel == "email"]
    assert delivery.status == "failed" and delivery.attempts == MAX_ATTEMPTS
    smtp.start()  # a later start of the server does not revive it
    assert deliver(kernel, delivery.tenant_id, delivery.id) == "failed" and smtp.messages == []


def test_a_claimed_delivery_is_not_sent_by_another_process(kernel, smtp):
    kernel.dispatcher.enabled = False  # keep the delivery pending after the commit
    share(kernel, users=[user_id(kernel, "reader@acme.test")])
    [delivery] = [d for d in rows(kernel, NotificationDelivery) if d.channel == "email"]
    from udyog_sdk.models import utcnow

    with kernel.db.session(delivery.tenant_id) as session:
        session.execute(
            update(NotificationDelivery)
            .where(NotificationDelivery.id == delivery.id)
            .values(claimed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        session.commit()
    assert deliver(kernel, delivery.tenant_id, delivery.id) == "busy"
    assert smtp.messages == []


# -- SMS and WhatsApp gateways -------------------------------------------------------------


def test_sms_goes_through_the_gateway_to_members_with_a_phone(kernel, smtp):
    recorder = Recorder()
    channels_for(kernel).gateways["sms"] = recorder
    with kernel.db.session() as session:
        session.execute(update(User).where(User.email == "reader@acme.test").values(phone="+919876543210"))
        session.commit()
    share(kernel)
    assert recorder.sent == [("+919876543210", "Asha shared Price list")]
    sms = {d.address: d for d in rows(kernel, NotificationDelivery) if d.channel == "sms"}
    assert sms["+919876543210"].status == "sent"
    # The owner has no phone on file: recorded as failed, never queued.
    [no_phone] = [d for a, d in sms.items() if a != "+919876543210"]
    assert no_phone.status == "failed" and no_phone.last_error == "no phone number on file"


def test_the_default_gateway_logs_and_others_are_loaded_by_setting(caplog):
    gateway = load_gateway("log", "whatsapp")
    assert isinstance(gateway, LoggingGateway) and isinstance(gateway, MessageGateway)
    with caplog.at_level("INFO", logger="udyog.notifications"):
        gateway.send("+911234567890", "hello")
    assert "whatsapp to +911234567890: hello" in caplog.text
    assert isinstance(load_gateway("udyog.notifications:LoggingGateway", "sms"), LoggingGateway)
    with pytest.raises(ValueError, match="module:factory"):
        load_gateway("nonsense", "sms")
    with pytest.raises(TypeError, match="send"):
        load_gateway("builtins:object", "sms")


# -- declarations ---------------------------------------------------------------------------


def test_declarations_are_checked_and_a_plugin_with_a_bad_one_keeps_none():
    good = NotificationTemplate("crm.deal.won", "in_app", "Won {{ name }}", "", permission="crm.deal.read")
    catalog = build_catalog(
        [
            (
                "crm",
                [good, NotificationTemplate("crm.deal.won", "email", "x", "{{ broken", permission="crm.deal.read")],
            ),
            ("hr", [NotificationTemplate("crm.leave.asked", "in_app", "x", "y")]),
            ("sales", [NotificationTemplate("sales.order.placed", "sms", "", "Order {{ n }}", permission="a.b.c")]),
            (
                "stock",
                [
                    NotificationTemplate("stock.low.alert", "in_app", "x", "y", permission="stock.item.read"),
                    NotificationTemplate("stock.low.alert", "email", "x", "y"),
                ],
            ),
            ("misc", ["not a template"]),
        ]
    )
    assert set(catalog.problems) == {"crm", "hr", "stock", "misc"}
    assert "invalid template" in catalog.problems["crm"][0]
    assert "starting with hr." in catalog.problems["hr"][0]
    assert "different permissions" in catalog.problems["stock"][0]
    assert catalog.events == {"sales.order.placed": ("sales", "a.b.c")}
    with pytest.raises(ValueError, match="channel"):
        NotificationTemplate("crm.deal.won", "fax", "x", "y")
    with pytest.raises(ValueError, match="language"):
        NotificationTemplate("crm.deal.won", "email", "x", "y", language="English")


def test_the_notes_plugin_declares_its_templates(kernel):
    catalog = template_catalog(kernel)
    assert catalog.problems == {}
    assert catalog.events[EVENT] == ("notes", "notes.note.read")
    assert {k for k in catalog.templates if k[0] == EVENT} == {
        (EVENT, "in_app", "en"),
        (EVENT, "email", "en"),
        (EVENT, "email", "hi"),
        (EVENT, "sms", "en"),
    }


# -- the inbox API -------------------------------------------------------------------------


@pytest.fixture
def app(kernel):
    return create_app(kernel=kernel)


def test_the_inbox_lists_only_your_own_with_keyset_pages(kernel, app):
    for n in range(3):
        with kernel.tenant_scope("acme") as scope:
            notify(EVENT, {"title": f"T{n}", "by": "Asha", "excerpt": ""})
            scope.session.commit()
    reader, owner, member = (login(app, e) for e in ("reader@acme.test", "owner@acme.test", "member@acme.test"))
    other = login(app, "owner@other.test")
    page = reader.get("/api/v1/core/notifications?limit=2").get_json()
    assert [n["title"] for n in page["data"]] == ["Asha shared “T2”", "Asha shared “T1”"]
    assert page["meta"]["pagination"]["has_more"] is True
    cursor = page["meta"]["pagination"]["next_cursor"]
    rest = reader.get(f"/api/v1/core/notifications?limit=2&cursor={cursor}").get_json()
    assert [n["title"] for n in rest["data"]] == ["Asha shared “T0”"] and rest["meta"]["pagination"][
        "has_more"
    ] is False
    mine = {n["id"] for n in reader.get("/api/v1/core/notifications").get_json()["data"]}
    theirs = {n["id"] for n in owner.get("/api/v1/core/notifications").get_json()["data"]}
    assert len(mine) == len(theirs) == 3 and not mine & theirs
    assert member.get("/api/v1/core/notifications").get_json()["data"] == []
    assert other.get("/api/v1/core/notifications").get_json()["data"] == []
    # Somebody else's notification cannot be marked read.
    victim = next(iter(theirs))
    assert reader.post(f"/api/v1/core/notifications/{victim}/read").status_code == 404
    assert other.post(f"/api/v1/core/notifications/{victim}/read").status_code == 404


def test_unread_count_mark_one_and_mark_all(kernel, app):
    for _ in range(3):
        share(kernel, users=[user_id(kernel, "reader@acme.test")])
    reader = login(app, "reader@acme.test")
    assert reader.get("/api/v1/core/notifications/unread-count").get_json()["data"] == {"unread": 3}
    first = reader.get("/api/v1/core/notifications").get_json()["data"][0]
    marked = reader.post(f"/api/v1/core/notifications/{first['id']}/read")
    assert marked.status_code == 200 and marked.get_json()["data"]["read_at"] is not None
    assert reader.get("/api/v1/core/notifications/unread-count").get_json()["data"] == {"unread": 2}
    unread = reader.get("/api/v1/core/notifications?unread=true").get_json()["data"]
    assert len(unread) == 2 and first["id"] not in {n["id"] for n in unread}
    assert [n["id"] for n in reader.get("/api/v1/core/notifications?unread=false").get_json()["data"]] == [first["id"]]
    assert reader.post("/api/v1/core/notifications/read-all").get_json()["data"] == {"marked": 2}
    assert reader.get("/api/v1/core/notifications/unread-count").get_json()["data"] == {"unread": 0}


def test_bad_inbox_input_answers_4xx_with_field_errors(app):
    reader = login(app, "reader@acme.test")
    assert reader.get("/api/v1/core/notifications?limit=0").status_code == 422
    bad = reader.get("/api/v1/core/notifications?cursor=garbage")
    assert bad.status_code == 400 and "cursor" in bad.get_json()["errors"]
    assert reader.get("/api/v1/core/notifications?colour=red").get_json()["errors"] == {"colour": ["Unknown field."]}
    assert reader.post("/api/v1/core/notifications/not-a-uuid/read").status_code == 404
    assert app.test_client().get("/api/v1/core/notifications").status_code == 401


# -- templates API: overrides, versions, languages, sandbox ----------------------------------------


URL = f"/api/v1/core/notification-templates/{EVENT}"


def test_templates_are_listed_and_overridden_with_versions(kernel, app, smtp):
    owner = login(app, "owner@acme.test")
    listed = owner.get(f"/api/v1/core/notification-templates?event={EVENT}").get_json()["data"]
    assert {(t["channel"], t["language"]) for t in listed} == {
        ("in_app", "en"),
        ("email", "en"),
        ("email", "hi"),
        ("sms", "en"),
    }
    email = next(t for t in listed if (t["channel"], t["language"]) == ("email", "en"))
    assert email["version"] == 0 and email["overridden"] is False and email["permission"] == "notes.note.read"
    saved = owner.put(
        f"{URL}/email/en", json={"version": 0, "subject": "[Acme] {{ title }}", "body": "Read {{ title }}"}
    )
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["data"]["version"] == 1 and saved.get_json()["data"]["overridden"] is True
    stale = owner.put(f"{URL}/email/en", json={"version": 0, "subject": "x"})
    assert stale.status_code == 409 and "version" in stale.get_json()["errors"]
    share(kernel, users=[user_id(kernel, "reader@acme.test")])
    [(_, message, _)] = smtp.messages
    assert message["Subject"] == "[Acme] Price list" and text_of(message) == "Read Price list"
    # Another tenant still uses the plugin's text.
    create_member(kernel, "other", "reader@other.test", roles=("Reader",))
    share(kernel, "other", users=[user_id(kernel, "reader@other.test")])
    assert smtp.messages[1][1]["Subject"] == "Note shared: Price list"
    # Back to the default.
    reset = owner.delete(f"{URL}/email/en")
    assert reset.status_code == 200 and reset.get_json()["data"]["overridden"] is False
    assert owner.delete(f"{URL}/email/en").status_code == 404


def test_a_tenant_adds_a_language_and_switches_a_channel_off(kernel, app, smtp):
    owner = login(app, "owner@acme.test")
    added = owner.put(f"{URL}/in_app/mr", json={"version": 0, "subject": "{{ by }} यांनी नोट शेअर केली", "body": ""})
    assert added.status_code == 200 and added.get_json()["data"]["default_subject"] is None
    assert owner.put(f"{URL}/email/en", json={"version": 0, "enabled": False}).status_code == 200
    set_language(kernel, "acme", "mr")
    result = share(kernel, users=[user_id(kernel, "reader@acme.test")])
    [note] = rows(kernel, Notification)
    assert note.title == "Asha यांनी नोट शेअर केली" and result.language == "mr"
    assert smtp.messages == [] and [d.channel for d in rows(kernel, NotificationDelivery)] == ["sms"]


def test_a_broken_or_hostile_override_falls_back_to_the_plugins_text(kernel, app, smtp):
    owner = login(app, "owner@acme.test")
    hostile = "{{ title.__class__.__mro__[1].__subclasses__() }}"
    assert owner.put(f"{URL}/email/en", json={"version": 0, "subject": hostile}).status_code == 200
    share(kernel, users=[user_id(kernel, "reader@acme.test")])
    [(_, message, _)] = smtp.messages
    assert message["Subject"] == "Note shared: Price list"


def test_template_input_is_validated_and_permission_checked(app):
    owner = login(app, "owner@acme.test")
    broken = owner.put(f"{URL}/email/en", json={"version": 0, "body": "{% if %}"})
    assert broken.status_code == 422 and "invalid template" in broken.get_json()["errors"]["body"][0]
    empty = owner.put(f"{URL}/email/en", json={"version": 0, "subject": "  "})
    assert empty.status_code == 422 and "subject" in empty.get_json()["errors"]
    assert owner.put(f"{URL}/email/en", json={"version": -1}).status_code == 422
    assert owner.put(f"{URL}/email/en", json={"subject": "x"}).status_code == 422
    assert owner.put(f"{URL}/email/en", json={"version": 0, "colour": "red"}).status_code == 422
    assert owner.put(f"{URL}/fax/en", json={"version": 0}).status_code == 404
    assert owner.put(f"{URL}/email/English", json={"version": 0}).status_code == 404
    assert (
        owner.put("/api/v1/core/notification-templates/notes.nope.x/email/en", json={"version": 0}).status_code == 404
    )
    assert owner.put("/api/v1/core/notification-templates/core.x.y/email/en", json={"version": 0}).status_code == 404
    reader = login(app, "reader@acme.test")
    denied = reader.get("/api/v1/core/notification-templates")
    assert denied.status_code == 403 and denied.get_json()["errors"]["permission"]
    assert reader.put(f"{URL}/email/en", json={"version": 0, "subject": "x"}).status_code == 403


def test_a_tenant_without_the_plugin_sees_none_of_its_templates(kernel, app):
    create_tenant(kernel, "plain", "Plain", plugins=[])
    create_member(kernel, "plain", "owner@plain.test", roles=("Owner",))
    owner = login(app, "owner@plain.test")
    assert owner.get("/api/v1/core/notification-templates").get_json()["data"] == []
    assert owner.put(f"{URL}/email/en", json={"version": 0, "subject": "x"}).status_code == 404
    with kernel.tenant_scope("plain"), pytest.raises(ValueError, match="no enabled plugin"):
        notify(EVENT, {})


# -- the web shell --------------------------------------------------------------------------


def _csrf(client) -> str:
    cookie = client.get_cookie("csrf_access_token")
    assert cookie is not None
    return cookie.value


def test_the_shell_shows_the_unread_count_and_lists_notifications(kernel, app):
    share(kernel, users=[user_id(kernel, "reader@acme.test")], link="/core/branches")
    share(kernel, users=[user_id(kernel, "reader@acme.test")])
    client = web_login(app, "reader@acme.test")
    home = client.get("/").get_data(as_text=True)
    assert 'id="unread-count">2<' in home
    page = client.get("/core/notifications")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("data-notification=") == 2 and "Asha shared “Price list”" in html
    ids = [n.id for n in rows(kernel, Notification)]
    opened = client.post(f"/core/notifications/{ids[0]}/read", data={"csrf_token": _csrf(client), "open": "1"})
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/core/branches")
    assert 'id="unread-count">1<' in client.get("/").get_data(as_text=True)
    # Without the CSRF value the form is refused.
    assert client.post("/core/notifications/read-all", data={}).status_code == 400
    done = client.post("/core/notifications/read-all", data={"csrf_token": _csrf(client)})
    assert done.status_code == 302
    assert 'id="unread-count"' not in client.get("/").get_data(as_text=True)
    # Another member's page shows none of them.
    other = web_login(app, "member@acme.test")
    assert "data-notification=" not in other.get("/core/notifications").get_data(as_text=True)
    assert other.post(f"/core/notifications/{ids[1]}/read", data={"csrf_token": _csrf(other)}).status_code == 404
