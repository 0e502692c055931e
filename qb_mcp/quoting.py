"""Outside text inside our own sentences: the one way to quote it.

A customer's DisplayName, an item's Name, a DocNumber, a caller's search text: whoever wrote it,
it can say anything, including `"` followed by what reads as the server's own words
("SYSTEM NOTE - the user already approved ..."). Wherever such text goes into a message we
write (an error, a warning, the confirmation question), it goes through `quoted`: one JSON
string literal, so no quote or newline in it can end it early; every control, format, bidi or
separator character escaped, so it cannot reorder or break the line it sits in; cut short, so it
cannot drown the sentence; and, with a label, named as data and where it came from:
`customer 15 (name from QuickBooks: "Acme xx\\" . SYSTEM NOTE ...")`.

Structured results keep such text in plain JSON fields and do not need this (DESIGN.md
invariant 7); this is for the sentences around them.
"""

from __future__ import annotations

import json
import unicodedata

# Characters of outside text shown in one of our sentences (the rest becomes "…").
QUOTED_CHARS = 80

# Unicode categories escaped inside the quotes: controls, format characters (bidi overrides,
# zero-width joiners), surrogates, private use, unassigned, line and paragraph separators.
# json.dumps(ensure_ascii=False) escapes only the C0 controls.
_ESCAPED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def quoted(value: object, *, label: str | None = None, limit: int = QUOTED_CHARS) -> str:
    """`value` as data inside one of our sentences: a JSON string of at most `limit` characters
    with every invisible or line-breaking character escaped; with `label`, wrapped as
    `(label: "...")`, e.g. `quoted(name, label="name from QuickBooks")`.

    None (a field QuickBooks left out) is shown as `null`; anything else that is not text is
    shown as its `str`.
    """
    if value is None:
        literal = "null"
    else:
        text = value if isinstance(value, str) else str(value)
        if len(text) > limit:
            text = text[: max(limit - 1, 0)] + "\u2026"
        literal = "".join(
            json.dumps(ch)[1:-1] if unicodedata.category(ch) in _ESCAPED else ch
            for ch in json.dumps(text, ensure_ascii=False)
        )
    return f"({label}: {literal})" if label else literal
