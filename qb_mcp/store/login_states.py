"""The `login_states` table: the CSRF `state` of each hosted login, used at most once.

`qb-mcp auth login --hosted` makes the consent URL in one process, and the server's
`/auth/intuit/callback` (maybe another replica) receives Intuit's answer: the state they share
lives here, as a SHA-256 (256 random bits need no slow hash). It is consumed in one conditional
UPDATE before anything else happens, so a replayed callback, on any replica, can never cause a
second code exchange (which would make Intuit revoke the grant).
"""

from __future__ import annotations

import hashlib
import secrets

from qb_mcp.errors import InvalidArgumentError
from qb_mcp.store.connections import Executor

# As the local login's (qb_mcp.auth.oauth.STATE_TTL_SECONDS): RFC 6749's ten minutes.
STATE_TTL_SECONDS = 600.0
_AGAIN = "nothing was stored; run `qb-mcp auth login --hosted` again"


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


async def issue(
    ex: Executor, *, environment: str, now: float, ttl: float = STATE_TTL_SECONDS
) -> str:
    """A fresh unguessable state for a consent URL (only its hash is stored)."""
    state = secrets.token_urlsafe(32)
    await ex.execute(
        "INSERT INTO login_states (state_hash, environment, created_at, expires_at) "
        "VALUES (?, ?, ?, ?)",
        (_hash(state), environment, now, now + ttl),
    )
    # Expired states are of no use to anyone: dropped here, so the table stays small.
    await ex.execute("DELETE FROM login_states WHERE expires_at < ?", (now - STATE_TTL_SECONDS,))
    return state


async def consume(ex: Executor, state: str | None, *, now: float) -> str:
    """Accept `state` once (on any replica); its login's environment. `InvalidArgumentError`
    for a missing, unknown, used or expired one."""
    if not state:
        raise InvalidArgumentError(f"the sign-in callback carried no state; {_AGAIN}")
    digest = _hash(state)
    taken = await ex.execute(
        "UPDATE login_states SET used_at = ? WHERE state_hash = ? AND used_at IS NULL",
        (now, digest),
    )
    row = await ex.fetchone(
        "SELECT environment, expires_at, used_at FROM login_states WHERE state_hash = ?",
        (digest,),
    )
    if row is None:
        raise InvalidArgumentError(
            "the sign-in callback's state matches no login started here (a stale or forged "
            f"link); {_AGAIN}"
        )
    if taken != 1:
        raise InvalidArgumentError(f"this sign-in link was already used; {_AGAIN}")
    if now >= float(row["expires_at"]):
        raise InvalidArgumentError(f"the sign-in link expired after 10 minutes; {_AGAIN}")
    return str(row["environment"])
