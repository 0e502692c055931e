"""MCP tool adapters, one module per group of tools."""
