"""Auth: OAuth flows, encrypted token store, single-flight refresh.

For a process that calls QuickBooks: `async with open_auth(settings) as auth:` gives the open
database and `auth.manager`, a `TokenManager` to pass to `QBOClient(token_source=...)`.
"""

from qb_mcp.auth.manager import TokenManager
from qb_mcp.auth.wiring import AuthContext, connected_realm, open_auth

__all__ = ["AuthContext", "TokenManager", "connected_realm", "open_auth"]
