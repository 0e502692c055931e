-- The idempotency ledger (../0002_ledger.sql).
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
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (realm_id, request_id)
);
CREATE INDEX idempotency_ledger_base ON idempotency_ledger (realm_id, base_key, generation);
CREATE INDEX idempotency_ledger_status ON idempotency_ledger (status, updated_at);
