-- Pending hosted logins (`qb-mcp auth login --hosted`, qb_mcp.store.login_states): the CSRF
-- state of each consent URL, kept as a SHA-256 (the state itself travels only in the URL),
-- until the server's `/auth/intuit/callback` uses it, once. `used_at` set: used.
CREATE TABLE login_states (
    state_hash TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    used_at DOUBLE PRECISION
);
