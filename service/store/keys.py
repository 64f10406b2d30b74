"""API keys: created once and shown once, stored as a SHA-256 digest.

The secrets are 256 random bits, so a plain digest is as strong as a slow hash here and
lets every request look its key up by index.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store.models import ApiKey, Tenant, utcnow

PREFIX = "gp_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    id: str
    tenant_id: str
    name: str
    secret: str  # shown once, never stored


def create_key(session: Session, name: str, tenant_id: str | None = None) -> NewKey:
    """A new key; with no tenant, a new tenant named after the key."""
    if tenant_id is None:
        tenant = Tenant(id=f"t_{uuid.uuid4().hex[:16]}", name=name)
        session.add(tenant)
        session.flush()  # the key's foreign key needs the row
        tenant_id = tenant.id
    elif session.get(Tenant, tenant_id) is None:
        raise LookupError(f"no tenant {tenant_id}")
    secret = PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=f"k_{uuid.uuid4().hex[:16]}",
        tenant_id=tenant_id,
        name=name,
        prefix=secret[:10],
        digest=digest(secret),
    )
    session.add(key)
    session.flush()
    return NewKey(key.id, tenant_id, name, secret)


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def revoke_key(session: Session, key_id: str) -> bool:
    key = session.get(ApiKey, key_id)
    if key is None:
        return False
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return True


def tenant_for(session: Session, secret: str) -> str | None:
    """The tenant of a live key, or None."""
    key = session.scalar(select(ApiKey).where(ApiKey.digest == digest(secret)))
    if key is None or key.revoked_at is not None:
        return None
    return key.tenant_id
