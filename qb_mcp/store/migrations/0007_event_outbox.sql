-- Events forwarded to the CRM (QBO_EVENTS_FORWARD_URL; qb_mcp.webhooks.forward). The forwarder
-- moves every stored event (webhook_events.seq above the cursor) into the outbox in one
-- transaction, then delivers each row until the CRM answers 2xx. Rows of one object (object_key:
-- realm, entity, id) go out in seq order: a row waits while an earlier row of its object is not
-- delivered. body is fixed when the row is made, so every attempt sends and signs the same bytes.
-- lease_until marks a row a forwarder (in any process) is sending; a forwarder that died loses
-- it then, and the row is sent again (at least once: the CRM drops duplicates by event id).
CREATE TABLE event_outbox (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    object_key TEXT NOT NULL,
    body TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    lease_until REAL NOT NULL DEFAULT 0,
    last_attempt_at REAL,
    last_error TEXT,
    delivered_at REAL
);
CREATE INDEX event_outbox_due ON event_outbox (delivered_at, next_attempt_at, seq);
CREATE INDEX event_outbox_object ON event_outbox (object_key, delivered_at, seq);
-- Up to which webhook_events.seq events have been put in the outbox (one row).
CREATE TABLE event_outbox_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    enqueued_through INTEGER NOT NULL
);
