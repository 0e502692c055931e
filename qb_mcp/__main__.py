"""`python -m qb_mcp` is the same as the `qb-mcp` command."""

from qb_mcp.cli import main

raise SystemExit(main())
