-- Bearer tokens for `serve --transport http` (qb_mcp.store.bearer_tokens): only a SHA-256 of each
-- token is kept; the token itself is printed once by `qb-mcp tokens add` and never stored.
-- scope: read (no write tools) or write. companies: a JSON array of realm ids the token is
-- limited to, or NULL for every company.
CREATE TABLE bearer_tokens (
    name TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    companies TEXT,
    created_at REAL NOT NULL
);
-- Who made each write: the bearer token's name or the JWT subject (NULL over stdio or --no-auth).
ALTER TABLE audit_log ADD COLUMN actor TEXT;
