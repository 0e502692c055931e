"""Webhooks: listener, signature, event parsing, CDC catch-up.

The API the MCP server builds on (all stable):
- `app.webhook_routes(database=, verifier_token=, on_stored=)`: the routes to mount.
- `feed.recent_events`, `feed.get_event`, `feed.events_after`, `feed.latest_seq`,
  `feed.event_details`: reading stored events.
- `catchup.CatchUp`: change data capture per connected realm (`run_once` on demand).
- `worker.Worker`: hands stored events to a handler in order, at least once.
"""
