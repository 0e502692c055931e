"""Webhooks: listener, signature, event parsing, CDC catch-up."""
