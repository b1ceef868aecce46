"""User accounts: create, log in, change role or password, disable.

Authors that cannot log in (importers, tools: ``Project.author``) are users without a
password hash; giving them a password turns them into a real account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wildloop import audit
from wildloop.errors import BadInput, Conflict, NotFound, PermissionDenied, Unauthenticated
from wildloop.store.tables import User
from wildloop.users.passwords import hash_password, needs_rehash, verify_password
from wildloop.users.roles import Actor, Role, parse_role, require_admin

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,79}$")


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    role: str
    disabled: bool
    can_log_in: bool
    created_at: datetime


def actor_of(user: User) -> Actor:
    return Actor(id=user.id, username=user.username, role=Role(user.role))


def create_user(
    session: Session,
    username: str,
    role: str,
    password: str | None,
    *,
    by: Actor | None = None,
) -> Account:
    """Add an account; ``by=None`` is the CLI on the server itself (how the first admin is
    made), any other actor must be an admin."""
    if by is not None:
        require_admin(by)
    if not USERNAME.match(username):
        raise BadInput(
            f"username {username!r} must be 1-80 letters, digits or . _ @ - "
            "and start with a letter or digit"
        )
    parsed = parse_role(role)
    hashed = hash_password(password) if password is not None else None
    user = session.scalar(select(User).where(User.username == username))
    if user is not None and user.password_hash is not None:
        raise Conflict(f"user {username!r} already exists")
    if user is None:
        user = User(username=username, role=parsed.value, password_hash=hashed)
        session.add(user)
    else:
        user.role, user.password_hash = parsed.value, hashed
    session.flush()
    audit.record(
        session,
        actor_id=by.id if by else None,
        action="user.create",
        entity="user",
        entity_id=user.id,
        after={"username": username, "role": parsed.value},
    )
    return _account(user)


def authenticate(session: Session, username: str, password: str) -> Actor:
    """The actor for a username and password; one vague message for every failure."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.disabled or not verify_password(user.password_hash, password):
        raise Unauthenticated("wrong username or password")
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return actor_of(user)


def load_actor(session: Session, user_id: int) -> Actor | None:
    """The actor behind a session, or None when the account is gone or disabled."""
    user = session.get(User, user_id)
    if user is None or user.disabled or user.password_hash is None:
        return None
    return actor_of(user)


def list_users(session: Session) -> list[Account]:
    return [_account(u) for u in session.scalars(select(User).order_by(User.username))]


def update_user(
    session: Session,
    username: str,
    *,
    by: Actor | None,
    role: str | None = None,
    password: str | None = None,
    disabled: bool | None = None,
) -> Account:
    """Change an account; admins change anyone, a person may change only their password.
    A change to what the account already is writes nothing (no audit entry)."""
    if role is None and password is None and disabled is None:
        raise BadInput("nothing to change: give a role, a password or disabled")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    own_password_only = by is not None and by.id == user.id and role is None and disabled is None
    if by is not None and not own_password_only:
        require_admin(by)
    before = {"role": user.role, "disabled": user.disabled}
    if role is not None:
        new_role = parse_role(role)
        if user.role == Role.ADMIN and new_role is not Role.ADMIN:
            _keep_an_admin(session, user.id)
        user.role = new_role.value
    if disabled is not None:
        if disabled and user.role == Role.ADMIN:
            _keep_an_admin(session, user.id)
        user.disabled = disabled
    if password is not None:
        user.password_hash = hash_password(password)
    elif before == {"role": user.role, "disabled": user.disabled}:
        return _account(user)
    audit.record(
        session,
        actor_id=by.id if by else None,
        action="user.update",
        entity="user",
        entity_id=user.id,
        before=before,
        after={
            "role": user.role,
            "disabled": user.disabled,
            "password_changed": password is not None,
        },
    )
    return _account(user)


def _keep_an_admin(session: Session, leaving_id: int) -> None:
    others = session.scalar(
        select(func.count()).where(
            User.role == Role.ADMIN.value,
            User.disabled.is_(False),
            User.password_hash.is_not(None),
            User.id != leaving_id,
        )
    )
    if not others:
        raise Conflict("this is the last active admin; make another admin first")


def _account(user: User) -> Account:
    return Account(
        id=user.id,
        username=user.username,
        role=user.role,
        disabled=user.disabled,
        can_log_in=user.password_hash is not None,
        created_at=user.created_at,
    )


def tool_actor(session: Session, user_id: int) -> Actor:
    """The actor a command-line user acts as: login-less authors (imports, tools) keep their
    role; a disabled account is refused, as it is on the web."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    if user.disabled:
        raise PermissionDenied(f"{user.username} is disabled")
    return actor_of(user)
