"""The async QuickBooks Online client: requests, limits, retries, faults, models, queries."""
