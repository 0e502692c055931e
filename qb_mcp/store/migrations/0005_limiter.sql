-- Each realm's request budget, shared by every process on this QBO_HOME (qb_mcp.store.limits).
-- One row per slot taken: kind 'request' for every request, plus a 'batch' row for a batch call.
-- A slot is in flight (lease_until set: its owner holds it until then at the latest) or finished
-- (counts_until set: it counts toward the window until then). host and pid name the owner, so a
-- process that died holding slots is noticed before its leases run out.
CREATE TABLE limiter_slots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    realm_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('request', 'batch')),
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    lease_until REAL,
    counts_until REAL,
    CHECK ((lease_until IS NULL) != (counts_until IS NULL))
);
CREATE INDEX limiter_slots_realm ON limiter_slots (realm_id, kind, counts_until);
