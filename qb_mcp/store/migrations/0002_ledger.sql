-- The idempotency ledger: every write the client sends, recorded before it goes out.
-- One row per requestid sent. `base_key` groups the generations of one logical write (the
-- caller's key or the derived one); `request_hash` is what the write asked for, so a key reused
-- for something else is refused. status: pending (sent or about to be, outcome unknown),
-- done (answer recorded), failed (QuickBooks refused it; nothing was written).
CREATE TABLE idempotency_ledger (
    realm_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    base_key TEXT NOT NULL,
    generation INTEGER NOT NULL,
    explicit INTEGER NOT NULL,
    operation TEXT NOT NULL,
    entity TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    response TEXT,
    fault_code TEXT,
    intuit_tid TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (realm_id, request_id)
);
CREATE INDEX idempotency_ledger_base ON idempotency_ledger (realm_id, base_key, generation);
CREATE INDEX idempotency_ledger_status ON idempotency_ledger (status, updated_at);
