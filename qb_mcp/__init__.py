"""qb-mcp: a Model Context Protocol server for QuickBooks Online bookkeeping."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qb-mcp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
