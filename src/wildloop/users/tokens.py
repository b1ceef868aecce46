"""API tokens for scripts: shown once, stored only as a SHA-256 hash.

Tokens are 256-bit random strings, so a fast hash is enough (no password stretching): the
table never holds anything that grants access if it leaks.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop import audit
from wildloop.errors import BadInput, NotFound, Unauthenticated
from wildloop.store.tables import ApiToken, User
from wildloop.store.types import utcnow
from wildloop.users.roles import Actor, Role

PREFIX = "wl_"
# last_used_at is refreshed at most this often, so reads stay reads.
TOUCH_EVERY = timedelta(minutes=5)


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    username: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, owner: Actor, name: str) -> tuple[TokenInfo, str]:
    """A new token for ``owner``; the plain token is returned here and never again."""
    name = name.strip()
    if not 1 <= len(name) <= 80:
        raise BadInput("a token needs a name of 1-80 characters (what script uses it)")
    plain = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=owner.id, name=name, token_hash=token_hash(plain))
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor_id=owner.id,
        action="token.create",
        entity="api_token",
        entity_id=row.id,
        after={"name": name},
    )
    return _info(row, owner.username), plain


def resolve_token(session: Session, plain: str) -> Actor:
    """The actor a bearer token stands for; Unauthenticated for unknown or revoked tokens."""
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash(plain))
    ).one_or_none()
    if row is None or row.ApiToken.revoked_at is not None or row.User.disabled:
        raise Unauthenticated("the API token is unknown, revoked or belongs to a disabled user")
    token, user = row.ApiToken, row.User
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        token.last_used_at = now
    return Actor(id=user.id, username=user.username, role=Role(user.role))


def list_tokens(session: Session, actor: Actor) -> list[TokenInfo]:
    """The actor's own tokens (every token for an admin)."""
    query = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
    if not actor.is_admin:
        query = query.where(ApiToken.user_id == actor.id)
    return [_info(t, name) for t, name in session.execute(query.order_by(ApiToken.id))]


def revoke_token(session: Session, actor: Actor, token_id: int) -> TokenInfo:
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != actor.id and not actor.is_admin):
        raise NotFound(f"no token {token_id} of yours")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(
            session,
            actor_id=actor.id,
            action="token.revoke",
            entity="api_token",
            entity_id=row.id,
        )
    owner = session.scalar(select(User.username).where(User.id == row.user_id)) or "?"
    return _info(row, owner)


def _info(row: ApiToken, username: str) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        username=username,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked=row.revoked_at is not None,
    )
