"""The one place where the SQL of the repositories is adapted to the backend it runs on.

Repositories write one spelling: SQLite's, with `?` parameters, plus PostgreSQL's row locks
(`SELECT ... FOR UPDATE [SKIP LOCKED]`), which mean nothing to SQLite and are dropped for it (its
`BEGIN IMMEDIATE` already holds the whole file). What differs in the schema (AUTOINCREMENT
against identity columns, REAL against double precision) lives in the two migration sets, not
here. For PostgreSQL (psycopg's `%s` parameters):
- `?` becomes `%s`, and a literal `%` becomes `%%` (psycopg would read it as a parameter);
- SQLite-only forms are refused with the statement named, so a repository that uses one fails
  its PostgreSQL test at once instead of behaving differently: `INSERT OR ...` (write
  `ON CONFLICT ... DO NOTHING`, which also keeps CHECK and NOT NULL errors visible), `PRAGMA`,
  `rowid`, `AUTOINCREMENT`.
Quoted text ('...', "...") and `--` comments keep their `?` (only their `%` is doubled: psycopg
reads every `%`).

Translations are cached: the repositories' statements are constants (an IN list of n
placeholders is one more per n), so each is translated once per process.
"""

from __future__ import annotations

import functools
import re

_TOKENS = re.compile(
    r"""
    (?P<quoted>'(?:[^']|'')*'|"(?:[^"]|"")*")
    | (?P<comment>--[^\n]*)
    | (?P<param>\?)
    | (?P<percent>%)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_FOR_UPDATE = re.compile(r"\s+FOR\s+UPDATE(?:\s+SKIP\s+LOCKED)?(?=\s*;?\s*$)", re.IGNORECASE)
_SQLITE_ONLY = {"PRAGMA", "ROWID", "AUTOINCREMENT"}


class DialectError(RuntimeError):
    """A statement uses a form one backend does not have (a bug in the repository)."""


@functools.lru_cache(maxsize=2048)
def for_sqlite(sql: str) -> str:
    """`sql` for SQLite: row-lock clauses dropped (the write lock covers the file)."""
    return _FOR_UPDATE.sub("", sql)


@functools.lru_cache(maxsize=2048)
def for_postgres(sql: str) -> str:
    """`sql` for PostgreSQL through psycopg (module docstring)."""
    out: list[str] = []
    previous = ""
    for match in _TOKENS.finditer(sql):
        kind = match.lastgroup
        text = match.group()
        if kind == "param":
            out.append("%s")
        elif kind == "percent":
            out.append("%%")
        elif kind == "word":
            upper = text.upper()
            if upper in _SQLITE_ONLY or (previous == "INSERT" and upper == "OR"):
                raise DialectError(f"SQLite-only SQL ({text}) in: {' '.join(sql.split())[:200]}")
            previous = upper
            out.append(text)
        else:
            if kind != "other" or not text.isspace():
                previous = "" if kind != "comment" else previous
            # psycopg reads every % as a parameter, inside quotes and comments too.
            out.append(text.replace("%", "%%"))
    return "".join(out)
