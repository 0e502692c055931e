"""Webhooks: listener, signature, event parsing, CDC catch-up.

What the MCP server builds on (stable; exact signatures in each module):
- `app.webhook_routes(database=, verifier_token=, on_stored=, clock=, healthz=True)`: the routes
  to mount (`POST /webhooks/intuit`, and `GET /healthz` unless the host has its own).
- `feed.recent_events`, `feed.get_event`, `feed.events_after`, `feed.latest_seq`,
  `feed.event_details`: reading stored events (`store.events.StoredEvent`, `.to_dict()`).
- `catchup.CatchUp`: change data capture per connected realm; `run()` loops, `run_once()` on demand.
- `worker.Worker`: hands stored events to a handler in order, at least once.
Modules are imported by name (`from qb_mcp.webhooks.feed import recent_events`), so importing one
does not pull in Starlette or the QBO client.
"""
