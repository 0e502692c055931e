"""Bookkeeping operations: customers, sales, payments, explanations."""
