-- The local index of each company's customers and items (qb_mcp.store.directory): the objects as
-- QuickBooks last sent them, kept current by our own writes, webhook events and change data
-- capture, so that a lookup costs at most one QuickBooks request at any company size.
CREATE TABLE directory_objects (
    realm_id TEXT NOT NULL,
    entity TEXT NOT NULL CHECK (entity IN ('Customer', 'Item')),
    entity_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (realm_id, entity, entity_id)
);
-- synced_at: when (epoch seconds, our clock) the request that last brought the index up to date
-- was sent; a change made after it is caught by the next CDC request.
CREATE TABLE directory_sync (
    realm_id TEXT PRIMARY KEY,
    synced_at REAL NOT NULL
);
