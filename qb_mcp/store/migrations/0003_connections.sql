-- Connected companies: one row per realm, tokens encrypted (qb_mcp.auth.crypto) and bound to the
-- row. Times are epoch seconds (REAL), the unit of every injected clock, so expiry checks are
-- plain comparisons.
CREATE TABLE connections (
    realm_id TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    company_name TEXT,
    access_token TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    access_expires_at REAL NOT NULL,
    -- when the access token was issued: its lifetime scales the refresh margin (auth/manager.py)
    access_issued_at REAL NOT NULL,
    refresh_expires_at REAL NOT NULL,
    hard_expires_at REAL,
    key_id TEXT NOT NULL,
    needs_reauth INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    last_refreshed_at REAL
);
