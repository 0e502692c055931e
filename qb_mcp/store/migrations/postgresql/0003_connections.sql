-- Connected companies (../0003_connections.sql): tokens encrypted, times epoch seconds.
CREATE TABLE connections (
    realm_id TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    company_name TEXT,
    access_token TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    access_expires_at DOUBLE PRECISION NOT NULL,
    access_issued_at DOUBLE PRECISION NOT NULL,
    refresh_expires_at DOUBLE PRECISION NOT NULL,
    hard_expires_at DOUBLE PRECISION,
    key_id TEXT NOT NULL,
    needs_reauth INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    last_refreshed_at DOUBLE PRECISION
);
