"""What the client needs from whoever holds the OAuth tokens (the auth layer implements it)."""

from __future__ import annotations

from typing import Protocol


class TokenSource(Protocol):
    """Hands out access tokens for a realm and renews one QuickBooks rejected."""

    async def access_token(self, realm_id: str) -> str:
        """A currently valid access token for `realm_id` (refreshing first if it is near expiry)."""
        ...

    async def refresh_after_rejection(self, realm_id: str, rejected_token: str) -> str:
        """QuickBooks answered 401 to `rejected_token`: return a newer token.

        If another task or process already replaced `rejected_token`, return that one instead of
        refreshing again. Raises `ReauthorizationRequiredError` when the connection is gone.
        """
        ...


class StaticTokenSource:
    """A fixed token per realm: for the emulator and for scripts that manage tokens themselves."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self._tokens = dict(tokens)

    async def access_token(self, realm_id: str) -> str:
        return self._tokens[realm_id]

    async def refresh_after_rejection(self, realm_id: str, rejected_token: str) -> str:
        from qb_mcp.errors import ReauthorizationRequiredError

        raise ReauthorizationRequiredError(
            f"QuickBooks rejected the access token for realm {realm_id} and this token source "
            "cannot refresh; run `qb-mcp auth login`"
        )
