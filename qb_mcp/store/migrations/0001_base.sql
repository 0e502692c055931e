-- The audit log: every write this server made, for qbo://audit/recent and for support.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    realm_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT,
    request_id TEXT,
    intuit_tid TEXT,
    outcome TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
