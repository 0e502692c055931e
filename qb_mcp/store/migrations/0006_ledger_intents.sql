-- Write sections (qb_mcp.store.intents): each ledger row written inside one is tagged with the
-- tool and the intent's key, so a later call of the same intent can settle rows a crashed call
-- left pending, and `qb-mcp doctor` can say which tool's writes are still unknown.
-- settled_by: NULL (the client recorded the answer itself), 'found' (a repeat found the object:
-- done), 'unwritten' (a repeat found nothing and wrote anew: failed, nothing was written).
ALTER TABLE idempotency_ledger ADD COLUMN tool TEXT;
ALTER TABLE idempotency_ledger ADD COLUMN intent_key TEXT;
ALTER TABLE idempotency_ledger ADD COLUMN settled_by TEXT;
CREATE INDEX idempotency_ledger_intent ON idempotency_ledger (realm_id, intent_key, status);
