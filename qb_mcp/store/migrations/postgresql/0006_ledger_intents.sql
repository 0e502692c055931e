-- Write sections tag ledger rows with their tool and intent (../0006_ledger_intents.sql).
ALTER TABLE idempotency_ledger ADD COLUMN tool TEXT;
ALTER TABLE idempotency_ledger ADD COLUMN intent_key TEXT;
ALTER TABLE idempotency_ledger ADD COLUMN settled_by TEXT;
CREATE INDEX idempotency_ledger_intent ON idempotency_ledger (realm_id, intent_key, status);
