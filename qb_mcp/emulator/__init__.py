"""The QuickBooks Online emulator: a separate world reached only over HTTP (or ASGI)."""
