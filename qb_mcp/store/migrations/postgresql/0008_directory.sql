-- The local index of each company's customers and items (../0008_directory.sql).
CREATE TABLE directory_objects (
    realm_id TEXT NOT NULL,
    entity TEXT NOT NULL CHECK (entity IN ('Customer', 'Item')),
    entity_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (realm_id, entity, entity_id)
);
CREATE TABLE directory_sync (
    realm_id TEXT PRIMARY KEY,
    synced_at DOUBLE PRECISION NOT NULL
);
