"""Business logic of the crm plugin (published: other plugins call these).

Plain functions over the current tenant's session: routes, pages, tasks,
demo data and other plugins call them alike. They work in the caller's
transaction and never commit; a refusal raises
``udyog_sdk.UdyogError(message, status=409|422, errors={field: [reason]})``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm.attributes import flag_modified

from udyog_sdk import UdyogError, current_user, db_session, emit, hooks, read_records
from udyog_sdk.api import check_version
from udyog_sdk.models import utcnow
from udyog_sdk.series import next_number

from .hookspecs import Conversion, QuoteData, QuoteLineData
from .models import Activity, CheckIn, Customer, Deal, Quote, QuoteLine, Stage

CENT = decimal.Decimal("0.01")
ZERO = decimal.Decimal("0")
#: Amounts (a line's, a quote's totals) stay below this: they fit Money(18, 2).
MAX_AMOUNT = decimal.Decimal(10) ** 16
HUNDRED = decimal.Decimal(100)
#: The series quotes are numbered from, and its default pattern.
QUOTE_SERIES = "crm.quote"
QUOTE_PATTERN = "QT/{FY}/{seq:04}"
#: The stages a tenant starts with: (name, sequence, probability %, outcome).
DEFAULT_STAGES: tuple[tuple[str, int, int, str], ...] = (
    ("Prospecting", 10, 10, "open"),
    ("Qualification", 20, 25, "open"),
    ("Proposal", 30, 50, "open"),
    ("Negotiation", 40, 75, "open"),
    ("Won", 90, 100, "won"),
    ("Lost", 99, 0, "lost"),
)
NO_CONVERTER = "no enabled plugin converts quotes (enable sales)"


# -- customers -------------------------------------------------------------------------------------


#: Built once: a statement object run again skips building and keying its SQL.
_CUSTOMER = select(Customer).where(Customer.id == bindparam("customer_id"))


def get_customer(customer_id: uuid.UUID) -> Customer:
    """The current tenant's customer ``customer_id`` (as the user's record rules show it).

    Raises 422 ``{"customer_id": ["no such customer"]}`` when there is none.
    """
    found = next(iter(read_records(_CUSTOMER, {"customer_id": customer_id})), None)
    if found is None:
        raise UdyogError("no such customer", status=422, errors={"customer_id": ["no such customer"]})
    return found


def default_owner(data: dict[str, Any], field: str = "owner_id") -> dict[str, Any]:
    """``data`` with ``field`` set to the acting user when the client left it out (system work: None)."""
    if field not in data:
        me = current_user()
        data = {**data, field: me.user_id if me is not None else None}
    return data


# -- pipeline --------------------------------------------------------------------------------------


def seed_stages(session: Any) -> int:
    """Add the default pipeline stages to a tenant that has none; returns how many were added (idempotent)."""
    if session.scalar(select(Stage.id).limit(1)) is not None:
        return 0
    for name, sequence, probability, outcome in DEFAULT_STAGES:
        session.add(Stage(name=name, sequence=sequence, probability=probability, outcome=outcome))
    session.flush()
    return len(DEFAULT_STAGES)


def stages() -> list[Stage]:
    """The tenant's stages in pipeline order."""
    return list(db_session().scalars(select(Stage).order_by(Stage.sequence, Stage.name)))


def apply_stage(deal: Deal, stage: Stage) -> None:
    """Put ``deal`` into ``stage``: a won or lost stage closes it (now), an open one reopens it.

    Emits ``crm.deal.won`` when the deal enters a won stage from another outcome.
    """
    previous = db_session().get(Stage, (deal.tenant_id, deal.stage_id)) if deal.stage_id else None
    if deal.stage_id != stage.id:
        deal.stage_id = stage.id
    if stage.outcome == "open":
        if deal.closed_at is not None:
            deal.closed_at = None
    elif deal.closed_at is None or (previous is not None and previous.outcome != stage.outcome):
        deal.closed_at = utcnow()
    if stage.outcome == "won" and (previous is None or previous.outcome != "won"):
        db_session().flush()
        deal_won(deal)


def deal_won(deal: Deal) -> None:
    """Emit ``crm.deal.won`` for ``deal`` (flushed): its id, title, customer, amount and owner."""
    emit(
        "crm.deal.won",
        {
            "deal_id": str(deal.id),
            "title": deal.title,
            "customer_id": str(deal.customer_id) if deal.customer_id else None,
            "amount": str(deal.amount),
            "owner_id": str(deal.owner_id) if deal.owner_id else None,
        },
    )


def move_deal(deal: Deal, stage_id: uuid.UUID, version: int | None) -> Deal:
    """Move ``deal`` to stage ``stage_id`` if the client read its current ``version`` (409 when stale).

    An unknown stage is 422 ``{"stage_id": ["no such stage"]}``. Emits
    ``crm.deal.moved`` (and ``crm.deal.won`` on entering a won stage).
    """
    check_version(deal, version)
    stage = db_session().scalar(select(Stage).where(Stage.id == stage_id))
    if stage is None:
        raise UdyogError("no such stage", status=422, errors={"stage_id": ["no such stage"]})
    before = deal.stage_id
    if before == stage.id:
        return deal
    apply_stage(deal, stage)
    db_session().flush()
    emit(
        "crm.deal.moved",
        {"deal_id": str(deal.id), "from_stage_id": str(before), "to_stage_id": str(stage.id), "stage": stage.name},
    )
    return deal


def pipeline() -> list[tuple[Stage, list[Deal]]]:
    """Each stage with its deals (as the user's record rules show them), biggest first."""
    columns = stages()
    deals: dict[uuid.UUID, list[Deal]] = {s.id: [] for s in columns}
    rows = db_session().scalars(select(Deal).order_by(Deal.amount.desc(), Deal.title))
    for deal in rows:
        deals.setdefault(deal.stage_id, []).append(deal)
    return [(stage, deals[stage.id]) for stage in columns]


# -- quotes ----------------------------------------------------------------------------------------


def line_amount(
    quantity: decimal.Decimal, unit_price: decimal.Decimal, discount_pct: decimal.Decimal
) -> decimal.Decimal:
    """quantity * unit_price * (1 - discount_pct / 100), rounded half up to paise."""
    gross = quantity * unit_price
    return (gross - gross * discount_pct / HUNDRED).quantize(CENT, rounding=decimal.ROUND_HALF_UP)


def retotal(quote: Quote) -> Quote:
    """Recompute each line's amount and the quote's gross, discount and net totals from its lines."""
    session = db_session()
    session.flush()
    lines = list(session.scalars(select(QuoteLine).where(QuoteLine.quote_id == quote.id)))
    gross = decimal.Decimal(0)
    net = decimal.Decimal(0)
    for line in lines:
        amount = line_amount(line.quantity, line.unit_price, line.discount_pct)
        if line.amount != amount:
            line.amount = amount
        gross += (line.quantity * line.unit_price).quantize(CENT, rounding=decimal.ROUND_HALF_UP)
        net += amount
    if gross >= MAX_AMOUNT:
        raise UdyogError(
            "the quote's total is too large",
            status=422,
            errors={"quantity": [f"the quote's total would reach {MAX_AMOUNT:,} or more"]},
        )
    totals = (gross.quantize(CENT), (gross - net).quantize(CENT), net.quantize(CENT))
    if (quote.gross_total, quote.discount_total, quote.total) != totals:
        quote.gross_total, quote.discount_total, quote.total = totals
    session.flush()
    session.refresh(quote, ["lines"])
    return quote


def _amount_of(line: Mapping[str, Any]) -> decimal.Decimal:
    """A new line's amount, refused (422) when quantity x unit price does not fit an amount."""
    if line["quantity"] * line["unit_price"] >= MAX_AMOUNT:
        raise UdyogError(
            "the line's amount is too large",
            status=422,
            errors={"quantity": [f"quantity x unit price must stay below {MAX_AMOUNT:,}"]},
        )
    return line_amount(line["quantity"], line["unit_price"], line.get("discount_pct") or decimal.Decimal(0))


def check_editable(quote: Quote) -> None:
    """409 unless the quote may still change (draft, sent or accepted)."""
    if quote.status in ("converted", "cancelled"):
        raise UdyogError(
            f"quote {quote.number} is {quote.status} and cannot be changed",
            status=409,
            errors={"status": [f"quote is {quote.status}"]},
        )


def create_quote(data: Mapping[str, Any], lines: Iterable[Mapping[str, Any]] = ()) -> Quote:
    """Create a quote numbered from ``crm.quote`` with its ``lines``; totals come from the lines.

    ``data`` holds the header (``customer_id``, ``quote_date``, ...). The
    owner defaults to the acting user.
    """
    values = default_owner(dict(data))
    get_customer(values["customer_id"])
    lines = list(lines)
    check_lines(lines, prefix="lines.")
    quote = Quote(**values, number=next_number(QUOTE_SERIES, on=values["quote_date"]))
    session = db_session()
    session.add(quote)
    session.flush()
    for n, line in enumerate(lines, start=1):
        session.add(QuoteLine(quote_id=quote.id, sequence=n * 10, amount=_amount_of(line), **line))
    return retotal(quote)


def add_line(data: Mapping[str, Any]) -> QuoteLine:
    """Add a line to a quote that may still change, and re-total it (its version moves on)."""
    quote = quote_for_line(data["quote_id"])
    values = dict(data)
    check_lines([values])
    if values.get("sequence") is None:
        last = db_session().scalar(select(func.max(QuoteLine.sequence)).where(QuoteLine.quote_id == quote.id))
        values["sequence"] = (last or 0) + 10
    line = QuoteLine(**values, amount=_amount_of(values))
    db_session().add(line)
    _retotal_changed(quote)
    return line


def change_line(line: QuoteLine, data: Mapping[str, Any]) -> QuoteLine:
    """Change a line of a quote that may still change, and re-total the quote."""
    quote = quote_for_line(line.quote_id)
    if "quote_id" in data and data["quote_id"] != line.quote_id:
        raise UdyogError("a line stays on its quote", status=422, errors={"quote_id": ["cannot move to another quote"]})
    if data.get("product_id") is not None and data["product_id"] != line.product_id:
        check_lines([{**_line_values(line), **data}])
    for key, value in data.items():
        if key == "sequence" and value is None:
            continue
        setattr(line, key, value)
    _retotal_changed(quote)
    return line


def remove_line(line: QuoteLine) -> None:
    """Delete a line of a quote that may still change, and re-total the quote."""
    quote = quote_for_line(line.quote_id)
    db_session().delete(line)
    _retotal_changed(quote)


def _line_values(line: QuoteLine) -> dict[str, Any]:
    return {
        "product_id": line.product_id,
        "description": line.description,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "discount_pct": line.discount_pct,
    }


def check_lines(lines: Sequence[Mapping[str, Any]], *, prefix: str = "") -> None:
    """Ask the plugins that know products (``crm_check_quote_lines``) about the lines naming one; 422 if refused.

    A problem is reported under ``{prefix}{position}.{field}`` (``lines.1.product_id``)
    when ``prefix`` is given, else under the field (one line).
    """
    named = [(n, line) for n, line in enumerate(lines) if line.get("product_id") is not None]
    if not named:
        return
    data = [
        QuoteLineData(
            product_id=line["product_id"],
            description=line.get("description") or "",
            quantity=line.get("quantity") or ZERO,
            unit_price=line.get("unit_price") or ZERO,
            discount_pct=line.get("discount_pct") or ZERO,
        )
        for _, line in named
    ]
    errors: dict[str, list[str]] = {}
    for answer in hooks().crm_check_quote_lines(lines=data):
        for index, fields in (answer or {}).items():
            position = named[index][0]
            for field, messages in fields.items():
                key = f"{prefix}{position}.{field}" if prefix else field
                errors.setdefault(key, []).extend(str(m) for m in messages)
    if errors:
        raise UdyogError("invalid quote lines", status=422, errors=errors)


def quote_for_line(quote_id: uuid.UUID) -> Quote:
    """The quote a line belongs to, if it may still change (422 if unknown, 409 if converted or cancelled)."""
    quote = db_session().scalar(select(Quote).where(Quote.id == quote_id))
    if quote is None:
        raise UdyogError("no such quote", status=422, errors={"quote_id": ["no such quote"]})
    check_editable(quote)
    return quote


def _retotal_changed(quote: Quote) -> None:
    """Re-total ``quote`` after a change of its lines, which moves its version on (once) like any change."""
    before = quote.version
    retotal(quote)
    if quote.version != before:
        return
    flag_modified(quote, "notes")  # an UPDATE of the row even when the totals stayed: the ORM bumps its version
    db_session().flush()


def quote_data(quote: Quote, options: Mapping[str, Any]) -> QuoteData:
    """The quote as the conversion hook receives it."""
    lines = tuple(
        QuoteLineData(
            product_id=line.product_id,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount_pct=line.discount_pct,
        )
        for line in sorted(quote.lines, key=lambda x: x.sequence)
    )
    return QuoteData(
        quote_id=quote.id,
        number=quote.number,
        customer_id=quote.customer_id,
        quote_date=quote.quote_date,
        lines=lines,
        options=dict(options),
    )


def convert_quote(quote: Quote, version: int | None, options: Mapping[str, Any] | None = None) -> Conversion:
    """Convert ``quote`` through the ``crm_quote_convert`` hook, in the caller's transaction.

    409 when the version is stale, the quote is converted or cancelled
    already, or no enabled plugin converts quotes; 422 when it has no lines.
    The quote becomes ``converted`` with the kind, id and number returned.
    Emits ``crm.quote.converted``.
    """
    check_version(quote, version)
    if quote.status in ("converted", "cancelled"):
        raise UdyogError(
            f"quote {quote.number} is {quote.status} already",
            status=409,
            errors={"status": [f"quote is {quote.status}"]},
        )
    if not quote.lines:
        raise UdyogError("the quote has no lines", status=422, errors={"lines": ["add at least one line"]})
    result = hooks().crm_quote_convert(quote=quote_data(quote, options or {}))
    if result is None:
        raise UdyogError(NO_CONVERTER, status=409, errors={"_schema": [NO_CONVERTER]})
    if not isinstance(result, Conversion):
        raise TypeError(f"crm_quote_convert returned {type(result).__name__}, not Conversion")
    quote.status = "converted"
    quote.converted_kind = result.kind[:40]
    quote.converted_id = result.record_id
    quote.converted_number = result.number[:64]
    db_session().flush()
    emit(
        "crm.quote.converted",
        {
            "quote_id": str(quote.id),
            "number": quote.number,
            "customer_id": str(quote.customer_id),
            "kind": result.kind,
            "record_id": str(result.record_id),
            "record_number": result.number,
        },
    )
    return result


# -- activities and check-ins ---------------------------------------------------------------------


def complete_activity(activity: Activity, done: bool) -> None:
    """Mark an activity done (stamped now) or open again."""
    if done and activity.done_at is None:
        activity.done_at = utcnow()
    elif not done and activity.done_at is not None:
        activity.done_at = None
    if activity.done != done:
        activity.done = done


def followups_due(user_id: uuid.UUID, on: dt.date, limit: int = 10) -> list[Activity]:
    """The open activities of ``user_id`` (or of nobody yet) due on ``on`` or earlier, oldest first."""
    mine = or_(Activity.owner_id == user_id, Activity.owner_id.is_(None))
    query = (
        select(Activity)
        .where(mine, Activity.done.is_(False), Activity.due_on <= on)
        .order_by(Activity.due_on, Activity.id)
        .limit(limit)
    )
    return list(db_session().scalars(query))


def record_checkin(data: Mapping[str, Any]) -> CheckIn:
    """Record a check-in by the acting user (now, unless ``checked_at`` is given) at a customer."""
    values = dict(data)
    get_customer(values["customer_id"])
    if values.get("checked_at") is None:
        values["checked_at"] = utcnow()
    me = current_user()
    values["user_id"] = me.user_id if me is not None else None
    checkin = CheckIn(**values)
    db_session().add(checkin)
    db_session().flush()
    emit(
        "crm.checkin.recorded",
        {"checkin_id": str(checkin.id), "customer_id": str(checkin.customer_id), "user_id": str(checkin.user_id)},
    )
    return checkin
