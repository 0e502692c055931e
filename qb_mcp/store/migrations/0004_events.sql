-- Webhook and change-data-capture events: one row per change of one object, stored before the
-- listener answers 200 (DESIGN.md invariant 6).
-- De-duplication (qb_mcp.store.events.store_events): a CloudEvents id is unique; so is
-- (realm, entity, id, version_second, operation), the version of the object that changed, with
-- version_second the UTC time cut to whole seconds (MetaData.LastUpdatedTime has no fractions,
-- so a CDC row and a webhook row for one version meet here).
-- Worker state: pending -> done, or failed with next_attempt_at for a retry; lease_until marks a
-- row a worker (in any process) is handling.
CREATE TABLE webhook_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    realm_id TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    version_second INTEGER NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('legacy', 'cloudevents', 'cdc')),
    cloudevent_id TEXT UNIQUE,
    deleted_id TEXT,
    confirmed_by TEXT,
    received_at REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    lease_until REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at REAL,
    details TEXT,
    details_at REAL
);
CREATE UNIQUE INDEX webhook_events_version
    ON webhook_events (realm_id, entity, entity_id, version_second, operation);
CREATE INDEX webhook_events_work ON webhook_events (status, next_attempt_at, seq);
CREATE INDEX webhook_events_occurred ON webhook_events (occurred_at);
-- Change data capture per realm: every change up to checked_through (epoch seconds, our clock)
-- has been looked for.
CREATE TABLE webhook_catchup (
    realm_id TEXT PRIMARY KEY,
    checked_through REAL NOT NULL,
    last_run_at REAL NOT NULL,
    last_error TEXT
);
