"""Users, passwords, login sessions and failed-login limits.

Passwords are hashed with argon2id (memory-hard). A login opens an
:class:`~udyog.models.AuthSession`; the tokens it issues carry its id, and
every request checks it, so logout, a password change or disabling the user
revokes the tokens at once. Failed logins are counted per e-mail and per
address in a window; past the limit the API answers 429.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from udyog.models import AuthSession, LoginFailure, Membership, Role, Tenant, User, UserRole
from udyog_sdk import UdyogError
from udyog_sdk.models import utcnow

if TYPE_CHECKING:
    from udyog.kernel import Kernel

PASSWORD_MIN_LENGTH = 10
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 30
SESSION_LIFETIME = timedelta(days=14)


class TooManyAttemptsError(UdyogError):
    """Failed logins exceeded the limit; ``retry_after`` is the wait in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} seconds", status=429)
        self.retry_after = retry_after


@functools.lru_cache(maxsize=4)
def _hasher(profile: str) -> Any:
    from argon2 import PasswordHasher

    if profile == "fast":  # tests only: same algorithm, minimal cost
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def hash_password(kernel: Kernel, password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher(kernel.settings.password_hash_profile).hash(password)


def verify_password(kernel: Kernel, password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; constant work even without a stored hash."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _hasher(kernel.settings.password_hash_profile)
    if not password_hash:
        hasher.hash(password)  # spend the same time as a real check
        return False
    try:
        return bool(hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def validate_password(password: str, *, email: str = "") -> None:
    """Refuse weak passwords with a field error."""
    problems = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(f"at least {PASSWORD_MIN_LENGTH} characters")
    if password.isdigit():
        problems.append("not only digits")
    if email and password.lower() == email.lower():
        problems.append("not the e-mail address")
    if problems:
        raise UdyogError("weak password", status=422, errors={"password": problems})


def normalize_email(email: str) -> str:
    """Trimmed, lower-case e-mail, or a field error if it is not one."""
    value = (email or "").strip().lower()
    if "@" not in value or value.startswith("@") or value.endswith("@") or len(value) > 254 or " " in value:
        raise UdyogError("invalid e-mail", status=422, errors={"email": ["not a valid e-mail address"]})
    return value


def create_user(
    kernel: Kernel,
    email: str,
    name: str,
    password: str | None,
    *,
    tenant: str | uuid.UUID | None = None,
    roles: Iterable[str] = (),
) -> uuid.UUID:
    """Create a user (and, with ``tenant``, a membership with ``roles``) in one transaction; returns the id.

    Nothing is written when any part is refused (taken e-mail, unknown tenant or role).
    """
    email = normalize_email(email)
    if not name.strip():
        raise UdyogError("invalid name", status=422, errors={"name": ["must not be empty"]})
    if password is not None:
        validate_password(password, email=email)
    with kernel.db.session() as session:
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            raise UdyogError("e-mail taken", status=409, errors={"email": [f"a user {email} already exists"]})
        user = User(
            email=email,
            name=name.strip(),
            password_hash=hash_password(kernel, password) if password is not None else None,
            password_changed_at=utcnow() if password is not None else None,
        )
        session.add(user)
        session.flush()
        if tenant is not None:
            _join(kernel, session, tenant, user.id, roles)
        session.commit()
        return user.id


def add_membership(kernel: Kernel, tenant: str | uuid.UUID, user_id: uuid.UUID, roles: Iterable[str] = ()) -> None:
    """Make the user a member of ``tenant`` (if not yet) holding ``roles`` (added to any held)."""
    with kernel.db.session() as session:
        _join(kernel, session, tenant, user_id, roles)
        session.commit()


def _join(kernel: Kernel, session: Any, tenant: str | uuid.UUID, user_id: uuid.UUID, roles: Iterable[str]) -> None:
    from udyog.rbac import bump_security

    found = kernel.find_tenant(session, tenant)
    if found is None:
        raise UdyogError(f"no tenant {tenant!r}", status=404)
    session.bind_tenant(found.id)
    if session.scalar(select(Membership.id).where(Membership.user_id == user_id)) is None:
        session.add(Membership(user_id=user_id))
    wanted = list(dict.fromkeys(roles))
    found_roles = {r.name: r for r in session.scalars(select(Role).where(Role.name.in_(wanted)))}
    missing = [r for r in wanted if r not in found_roles]
    if missing:
        known = sorted(session.scalars(select(Role.name)))
        raise UdyogError(
            "unknown role",
            status=422,
            errors={"roles": [f"no role {m!r} (roles: {', '.join(known)})" for m in missing]},
        )
    held = set(session.scalars(select(UserRole.role_id).where(UserRole.user_id == user_id)))
    for name in wanted:
        if found_roles[name].id not in held:
            session.add(UserRole(user_id=user_id, role_id=found_roles[name].id))
    session.flush()
    bump_security(session)


def user_by_email(kernel: Kernel, email: str) -> User | None:
    """The user with ``email`` (any tenant)."""
    with kernel.db.session(write=False) as session:
        return session.scalar(select(User).where(User.email == email.strip().lower()))


def tenants_of(kernel: Kernel, user_id: uuid.UUID) -> list[Tenant]:
    """Active tenants the user is an active member of, by name.

    Memberships of every tenant are read in a system session of their own,
    which only reads (safe beside a request's writing transaction on SQLite).
    """
    with kernel.db.session(all_tenants=True, write=False) as session:
        return list(
            session.scalars(
                select(Tenant)
                .join(Membership, Membership.tenant_id == Tenant.id)
                .where(Membership.user_id == user_id, Membership.is_active, Tenant.is_active)
                .order_by(Tenant.name)
            )
        )


def _check_rate(session: Session, keys: list[tuple[str, int]], now: datetime) -> None:
    for key, limit in keys:
        row = session.get(LoginFailure, key)
        if row is not None and row.window_start > now - FAILURE_WINDOW and row.count >= limit:
            wait = int((row.window_start + FAILURE_WINDOW - now).total_seconds()) + 1
            raise TooManyAttemptsError(wait)


def _count_failures(session: Session, keys: list[str], now: datetime) -> None:
    """Add one failure per key in ``session``'s transaction (atomic increments)."""
    from sqlalchemy import delete

    cutoff = now - FAILURE_WINDOW
    for key in keys:
        counted = session.execute(
            update(LoginFailure)
            .where(LoginFailure.key == key, LoginFailure.window_start > cutoff)
            .values(count=LoginFailure.count + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not counted:
            # Only an expired window restarts: a row another transaction just
            # created is counted by the retry after the insert below conflicts.
            restarted = session.execute(
                update(LoginFailure)
                .where(LoginFailure.key == key, LoginFailure.window_start <= cutoff)
                .values(window_start=now, count=1)
                .execution_options(synchronize_session=False)
            ).rowcount
            if not restarted:
                session.add(LoginFailure(key=key, window_start=now, count=1))
    session.execute(delete(LoginFailure).where(LoginFailure.window_start < now - timedelta(days=1)))
    session.flush()


def record_failures(kernel: Kernel, keys: list[str], now: datetime) -> None:
    """Count one failure per key in a short transaction of its own (concurrent failures all count).

    Nothing holds a write lock while passwords are hashed; rows idle for a day
    are removed on the way.
    """
    from sqlalchemy.exc import IntegrityError

    for _attempt in range(5):
        with kernel.db.session() as session:
            try:
                _count_failures(session, keys, now)
                session.commit()
                return
            except IntegrityError:  # a concurrent first failure created the row: count again
                session.rollback()


def clear_failures(kernel: Kernel, key: str) -> None:
    """Forget the failures of ``key`` (after a successful login)."""
    with kernel.db.session() as session:
        row = session.get(LoginFailure, key)
        if row is not None:
            session.delete(row)
            session.commit()


def authenticate(kernel: Kernel, email: str, password: str, remote_addr: str) -> User:
    """The user with these credentials, or 401 (generic) / 429 (too many failures).

    The password is checked outside any writing transaction (argon2 takes a
    noticeable time; on SQLite a writer would block every other writer).
    """
    value = (email or "").strip().lower()
    now = utcnow()
    keys = [(f"email:{value}", MAX_FAILURES_PER_EMAIL), (f"addr:{remote_addr}", MAX_FAILURES_PER_ADDRESS)]
    with kernel.db.session(write=False) as session:
        _check_rate(session, keys, now)
        user = session.scalar(select(User).where(User.email == value))
        if user is not None:
            session.expunge(user)
    ok = verify_password(kernel, user.password_hash if user else None, password or "")
    if not ok or user is None or not user.is_active:
        record_failures(kernel, [k for k, _ in keys], now)
        raise UdyogError("invalid e-mail or password", status=401)
    clear_failures(kernel, f"email:{value}")
    return user


def open_session(
    session: Session, user_id: uuid.UUID, tenant_id: uuid.UUID, *, user_agent: str, remote_addr: str
) -> uuid.UUID:
    """Record a login acting for ``tenant_id`` (the caller commits); returns its id."""
    row = AuthSession(
        user_id=user_id,
        acting_tenant_id=tenant_id,
        expires_at=utcnow() + SESSION_LIFETIME,
        user_agent=user_agent[:300],
        remote_addr=remote_addr[:64],
    )
    session.add(row)
    session.flush()
    return row.id


def revoke_session(session: Session, session_id: uuid.UUID) -> None:
    """Revoke one login (logout): its tokens stop working once the caller commits."""
    session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def revoke_all_sessions(session: Session, user_id: uuid.UUID) -> None:
    """Revoke every login of a user (password change, user disabled); the caller commits."""
    session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def change_password(kernel: Kernel, session: Session, user_id: uuid.UUID, current: str, new: str) -> None:
    """Change a password after checking the current one; every login is revoked (caller commits).

    Wrong current passwords count like failed logins (a stolen token cannot guess on).
    """
    now = utcnow()
    key = f"password:{user_id}"
    _check_rate(session, [(key, MAX_FAILURES_PER_EMAIL)], now)
    user = session.get(User, user_id)
    if user is None or not verify_password(kernel, user.password_hash, current):
        _count_failures(session, [key], now)
        session.commit()  # the failure counts although the change is refused
        raise UdyogError("wrong password", status=422, errors={"current_password": ["does not match"]})
    validate_password(new, email=user.email)
    user.password_hash = hash_password(kernel, new)
    user.password_changed_at = utcnow()
    revoke_all_sessions(session, user_id)


def set_password(kernel: Kernel, session: Session, user_id: uuid.UUID, new: str) -> None:
    """Set a password (an administrator's reset); every login is revoked (caller commits)."""
    user = session.get(User, user_id)
    if user is None:
        raise UdyogError("no such user", status=404)
    validate_password(new, email=user.email)
    user.password_hash = hash_password(kernel, new)
    user.password_changed_at = utcnow()
    revoke_all_sessions(session, user_id)


def set_user_active(session: Session, user_id: uuid.UUID, active: bool) -> None:
    """Enable or disable a user; disabling revokes every login (caller commits)."""
    user = session.get(User, user_id)
    if user is None:
        raise UdyogError("no such user", status=404)
    user.is_active = active
    if not active:
        revoke_all_sessions(session, user_id)
