-- Events forwarded to the CRM (../0007_event_outbox.sql). seq is webhook_events.seq.
CREATE TABLE event_outbox (
    seq BIGINT PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    object_key TEXT NOT NULL,
    body TEXT NOT NULL,
    enqueued_at DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_attempt_at DOUBLE PRECISION,
    last_error TEXT,
    delivered_at DOUBLE PRECISION
);
CREATE INDEX event_outbox_due ON event_outbox (delivered_at, next_attempt_at, seq);
CREATE INDEX event_outbox_object ON event_outbox (object_key, delivered_at, seq);
CREATE TABLE event_outbox_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    enqueued_through BIGINT NOT NULL
);
