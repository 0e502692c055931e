-- Bearer tokens for serve --transport http, as SHA-256 hashes (../0009_bearer_tokens.sql).
CREATE TABLE bearer_tokens (
    name TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    companies TEXT,
    created_at DOUBLE PRECISION NOT NULL
);
ALTER TABLE audit_log ADD COLUMN actor TEXT;
