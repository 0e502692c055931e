"""Customer matching for find_customer and upsert_customer: pure functions, no I/O.

QuickBooks cannot filter customers by phone, and its name filters are exact or LIKE on one field,
so qb-mcp fetches a bounded set of candidates and ranks them here, client side.

Choices (the brief is silent on them):
- Phones compare on digits. A North American (NANP) number is its 10 digits: a leading country
  code 1 is dropped when 11 digits start with 1 (`+1 650 555 3311` == `(650) 555-3311`). Other
  numbers keep their country code when written with `+` or `00`; a national trunk 0 is dropped for
  comparison, so `+44 20 7946 0958` matches `020 7946 0958`. A number written without its area or
  country code still matches on its last 7+ digits, but only as a weaker "phone ends with" match.
- Extensions (`x12`, `ext. 12`, `extension 12`, `#12`) are split off. Two numbers with different
  explicit extensions are different phones (a switchboard shared by colleagues); a number with an
  extension matches the same number without one.
- Letters other than extension markers are ignored (vanity numbers are not translated).
- Emails compare case-insensitively after trimming, with `mailto:` and `Name <addr>` unwrapped.
  Gmail-style dots and `+tags` are NOT folded: they can be different mailboxes elsewhere.
  QuickBooks lets PrimaryEmailAddr hold several addresses separated by commas; each counts.
- Names compare after NFKD folding (accents dropped), casefolding (ß -> ss), a few letters NFKD
  does not split (ø, æ, œ, ł, đ, þ), apostrophes of every kind removed (O'Brien == O’Brien ==
  OBrien), `&` read as "and", and other punctuation read as spaces.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qb_mcp.errors import InvalidArgumentError

# Inputs longer than QuickBooks' own field limits cannot match anything (QBO_API.md section 5:
# DisplayName 500, email 100, phone 30); a little slack for formatting.
MAX_NAME_CHARS = 500
MAX_EMAIL_CHARS = 320
MAX_PHONE_CHARS = 60
# Fewer digits than this is not a phone number anyone could match reliably.
MIN_PHONE_DIGITS = 7

# Scores for each kind of evidence; a candidate's score is the sum over the fields searched.
SCORE_EMAIL = 100
SCORE_EMAIL_DOMAIN = 30
SCORE_PHONE = 90
SCORE_PHONE_SUFFIX = 50
SCORE_NAME_EXACT = 80
SCORE_NAME_REORDERED = 70
SCORE_NAME_WORDS = 60
SCORE_NAME_PREFIX = 50
SCORE_NAME_SUBSTRING = 35
SCORE_COMPANY_EXACT = 70
SCORE_COMPANY_CONTAINS = 45
PENALTY_EMAIL_DIFFERS = 40
PENALTY_INACTIVE = 5

_APOSTROPHES = "'\u2018\u2019\u201b\u02bc\u02b9\u0060\u00b4\u2032\uff07"
_FOLD = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "þ": "th",
        "Þ": "TH",
        "ı": "i",
        "&": " and ",
        **{c: None for c in _APOSTROPHES},
    }
)
# Letters of every script are kept (Cyrillic, Greek, CJK names must still match themselves).
_NOT_WORD = re.compile(r"[\W_]+")
_EXTENSION = re.compile(r"(?i)(?:\bext(?:ension)?\.?|\bx\b|x(?=\s*\d)|#)\s*:?\s*(\d{1,8})\s*$")
_EMAIL_IN_ANGLES = re.compile(r"<([^<>]*)>")
_NOT_DIGIT = re.compile(r"[^0-9]+")  # ASCII digits only: other scripts' digits are not dialled


# --- normalising --------------------------------------------------------------------------------


def normalise_name(value: str | None) -> str:
    """A name folded for comparison: no accents or case, apostrophes gone, words single-spaced."""
    if not value:
        return ""
    text = str(value)
    if text.isascii():
        # The same result without the Unicode passes (no accents to drop, casefold is lower),
        # which cost most of a 20,000-customer sync's matching.
        return _NOT_WORD.sub(" ", text.translate(_FOLD).lower()).strip()
    return _fold_unicode(text)


def _fold_unicode(text: str) -> str:
    # Twice: casefolding can produce combining marks (İ -> i + dot above), and NFKD can produce
    # letters that casefold further (mathematical bold 𝐀 -> A).
    for _ in range(2):
        text = unicodedata.normalize("NFKD", text.translate(_FOLD).casefold())
        text = "".join(c for c in text if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", text.translate(_FOLD)).strip()


def normalise_email(value: str | None) -> str:
    """An email address for comparison: trimmed, unwrapped and lower-cased ("" if none)."""
    if not value:
        return ""
    text = str(value).strip()
    wrapped = _EMAIL_IN_ANGLES.search(text)
    if wrapped:
        text = wrapped.group(1)
    text = text.strip().strip("<>").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return "".join(text.split()).casefold()


@dataclass(frozen=True, slots=True)
class Phone:
    """A phone number reduced to what identifies it."""

    digits: str  # national significant number (NANP: 10 digits), with country code when known
    extension: str = ""
    international: bool = False  # written with + or 00, so `digits` starts with a country code


def normalise_phone(value: str | None) -> Phone | None:
    """A phone number split into comparable digits and extension; None if it has no digits."""
    if not value:
        return None
    text = str(value)
    text = (text if text.isascii() else unicodedata.normalize("NFKC", text)).strip()
    extension = ""
    found = _EXTENSION.search(text)
    if found:
        extension = found.group(1)
        text = text[: found.start()]
    stripped = text.strip()
    international = stripped.startswith("+")
    digits = _NOT_DIGIT.sub("", stripped)
    if not international and digits.startswith("00"):
        international = True
        digits = digits[2:]
    if not digits:
        return None
    if international and digits.startswith("1") and len(digits) == 11:
        # NANP written internationally: the same as the 10-digit national form.
        return Phone(digits[1:], extension, international=False)
    if not international and len(digits) == 11 and digits.startswith("1"):
        return Phone(digits[1:], extension)
    return Phone(digits, extension, international)


def phone_match(a: str | Phone | None, b: str | Phone | None) -> str | None:
    """How two phone numbers match: "exact", "suffix" (one lacks area/country code) or None."""
    pa = a if isinstance(a, Phone) or a is None else normalise_phone(a)
    pb = b if isinstance(b, Phone) or b is None else normalise_phone(b)
    if pa is None or pb is None:
        return None
    if pa.extension and pb.extension and pa.extension != pb.extension:
        return None
    da, db = _comparable(pa), _comparable(pb)
    if len(da) < MIN_PHONE_DIGITS or len(db) < MIN_PHONE_DIGITS:
        return None
    if da == db:
        return "exact"
    if pa.international != pb.international:
        # One written with its country code, one without: compare the national parts.
        longer, shorter = (da, db) if len(da) > len(db) else (db, da)
        if longer.endswith(shorter) and 1 <= len(longer) - len(shorter) <= 3:
            return "exact"
    longer, shorter = (da, db) if len(da) >= len(db) else (db, da)
    if longer.endswith(shorter):
        return "suffix"
    return None


def phone_keys(phone: Phone) -> tuple[str, tuple[str, ...]]:
    """Lookup keys for a stored number: its comparable digits, and those digits less 1 to 3
    leading ones. Any number `phone_match` calls "exact" against it has comparable digits equal
    to one of these, or has the stored digits among its own trimmed ones (`phone_keys` of it)."""
    digits = _comparable(phone)
    return digits, tuple(digits[k:] for k in (1, 2, 3) if len(digits) - k >= MIN_PHONE_DIGITS)


def _comparable(phone: Phone) -> str:
    # A national trunk prefix 0 (UK 020..., DE 030...) is not part of the number abroad.
    if not phone.international and phone.digits.startswith("0"):
        return phone.digits.lstrip("0")
    return phone.digits


# --- reading QuickBooks customers ---------------------------------------------------------------


def _field(customer: Mapping[str, Any], *path: str) -> str:
    value: Any = customer
    for key in path:
        if not isinstance(value, Mapping):
            return ""
        value = value.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def customer_emails(customer: Mapping[str, Any]) -> list[str]:
    """Every email address on a customer, normalised (PrimaryEmailAddr may list several)."""
    raw = _field(customer, "PrimaryEmailAddr", "Address")
    parts = re.split(r"[,;]", raw)
    return [e for e in (normalise_email(p) for p in parts) if e]


_PHONE_FIELDS: tuple[tuple[str, str], ...] = (
    ("PrimaryPhone", "phone"),
    ("Mobile", "mobile"),
    ("AlternatePhone", "alternate phone"),
)


def customer_phones(customer: Mapping[str, Any]) -> list[tuple[str, Phone]]:
    """(label, phone) for each phone number on a customer."""
    phones = []
    for key, label in _PHONE_FIELDS:
        phone = normalise_phone(_field(customer, key, "FreeFormNumber"))
        if phone is not None:
            phones.append((label, phone))
    return phones


def customer_names(customer: Mapping[str, Any]) -> list[str]:
    """The names a customer can be found by, normalised: display, given+family, company."""
    given = _field(customer, "GivenName")
    family = _field(customer, "FamilyName")
    names = [
        _field(customer, "DisplayName"),
        f"{given} {family}",
        _field(customer, "CompanyName"),
        _field(customer, "FullyQualifiedName"),
    ]
    return _unique(n for n in (normalise_name(name) for name in names) if n)


def email_matches(customer: Mapping[str, Any], email: str) -> bool:
    """True when `email` is one of the customer's addresses."""
    wanted = normalise_email(email)
    return bool(wanted) and wanted in customer_emails(customer)


def phone_matches(customer: Mapping[str, Any], phone: str) -> bool:
    """True when `phone` is exactly one of the customer's numbers (not a mere suffix match)."""
    wanted = normalise_phone(phone)
    return any(phone_match(wanted, p) == "exact" for _, p in customer_phones(customer))


def display_name_matches(customer: Mapping[str, Any], name: str) -> bool:
    """True when `name` equals the DisplayName once folded (QuickBooks' uniqueness, 6240)."""
    wanted = normalise_name(name)
    return bool(wanted) and wanted == normalise_name(_field(customer, "DisplayName"))


# --- ranking ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustomerSearch:
    """What the caller is looking for; every given field must be usable."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None

    def __post_init__(self) -> None:
        fields = {"name": self.name, "email": self.email, "phone": self.phone}
        fields["company"] = self.company
        for label, value in fields.items():
            if value is not None and not isinstance(value, str):
                raise InvalidArgumentError(f"{label} must be text, not {type(value).__name__}")
        if not any(v and v.strip() for v in fields.values()):
            raise InvalidArgumentError("give at least one of name, email, phone or company")
        _check_length("name", self.name, MAX_NAME_CHARS)
        _check_length("company", self.company, MAX_NAME_CHARS)
        _check_length("email", self.email, MAX_EMAIL_CHARS)
        _check_length("phone", self.phone, MAX_PHONE_CHARS)
        if self.name and self.name.strip() and not normalise_name(self.name):
            raise InvalidArgumentError("name has no letters or digits to search for")
        if self.company and self.company.strip() and not normalise_name(self.company):
            raise InvalidArgumentError("company has no letters or digits to search for")
        if self.email and self.email.strip() and "@" not in normalise_email(self.email):
            raise InvalidArgumentError(
                "email must be an address (name@example.com) or a domain (@example.com)"
            )
        if self.phone and self.phone.strip():
            phone = normalise_phone(self.phone)
            if phone is None or len(_comparable(phone)) < MIN_PHONE_DIGITS:
                raise InvalidArgumentError(
                    f"phone needs at least {MIN_PHONE_DIGITS} digits to match a customer"
                )


def _check_length(label: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise InvalidArgumentError(f"{label} is {len(value)} characters; at most {limit}")


@dataclass(frozen=True, slots=True)
class CustomerMatch:
    """One candidate with its score and the reasons it matched."""

    customer: Mapping[str, Any]
    score: int
    reasons: tuple[str, ...]
    matched_on: frozenset[str] = field(default_factory=frozenset)

    @property
    def active(self) -> bool:
        """QuickBooks' Active flag (customers without it are active)."""
        return self.customer.get("Active") is not False


def rank_customers(
    candidates: Iterable[Mapping[str, Any]],
    search: CustomerSearch,
    *,
    limit: int | None = None,
) -> list[CustomerMatch]:
    """Candidates that match `search`, best first, each with a score and its reasons.

    A candidate matches when at least one searched field does. Ties go to active customers, then
    by DisplayName. A candidate whose email differs from a searched email is kept (people change
    addresses) but loses points, and the reason says so.
    """
    if limit is not None and limit < 1:
        raise InvalidArgumentError("limit must be at least 1")
    prepared = _Prepared.of(search)
    matches = []
    for index, candidate in enumerate(candidates):
        if not isinstance(candidate, Mapping):
            raise InvalidArgumentError(f"candidate {index} is not a customer object")
        match = _score(candidate, prepared)
        if match is not None:
            matches.append(match)
    matches.sort(
        key=lambda m: (
            -m.score,
            not m.active,
            normalise_name(_field(m.customer, "DisplayName")),
            _field(m.customer, "Id"),
        )
    )
    return matches if limit is None else matches[:limit]


@dataclass(frozen=True, slots=True)
class _Prepared:
    name: str
    name_words: tuple[str, ...]
    email: str
    domain: str
    phone: Phone | None
    company: str
    shown_name: str
    shown_company: str

    @classmethod
    def of(cls, search: CustomerSearch) -> _Prepared:
        name = normalise_name(search.name)
        email = normalise_email(search.email)
        domain = email[1:] if email.startswith("@") else ""
        return cls(
            name=name,
            name_words=tuple(name.split()),
            email="" if domain else email,
            domain=domain,
            phone=normalise_phone(search.phone) if search.phone and search.phone.strip() else None,
            company=normalise_name(search.company),
            shown_name=" ".join((search.name or "").split())[:80],
            shown_company=" ".join((search.company or "").split())[:80],
        )


def _score(customer: Mapping[str, Any], search: _Prepared) -> CustomerMatch | None:
    score = 0
    reasons: list[str] = []
    matched: set[str] = set()

    if search.email or search.domain:
        emails = customer_emails(customer)
        if search.email and search.email in emails:
            score += SCORE_EMAIL
            reasons.append("email matches")
            matched.add("email")
        elif search.domain and any(e.endswith("@" + search.domain) for e in emails):
            score += SCORE_EMAIL_DOMAIN
            reasons.append(f"email domain is {search.domain}")
            matched.add("email")
        elif search.email and emails:
            score -= PENALTY_EMAIL_DIFFERS
            reasons.append("email differs")

    if search.phone is not None:
        best: tuple[int, str] | None = None
        for label, phone in customer_phones(customer):
            how = phone_match(search.phone, phone)
            if how == "exact" and (best is None or best[0] < SCORE_PHONE):
                best = (SCORE_PHONE, f"{label} matches")
            elif how == "suffix" and best is None:
                best = (SCORE_PHONE_SUFFIX, f"{label} ends with the same digits")
        if best is not None:
            score += best[0]
            reasons.append(best[1])
            matched.add("phone")

    if search.name:
        found = _name_score(customer_names(customer), search.name, search.name_words)
        if found is not None:
            score += found[0]
            reasons.append(found[1].format(name=search.shown_name))
            matched.add("name")

    if search.company:
        company = normalise_name(_field(customer, "CompanyName"))
        if company and company == search.company:
            score += SCORE_COMPANY_EXACT
            reasons.append("company matches")
            matched.add("company")
        elif company and _contains_words(company, search.company.split()):
            score += SCORE_COMPANY_CONTAINS
            reasons.append(f"company contains '{search.shown_company}'")
            matched.add("company")

    if not matched:
        return None
    if customer.get("Active") is False:
        score -= PENALTY_INACTIVE
        reasons.append("inactive")
    return CustomerMatch(customer, score, tuple(reasons), frozenset(matched))


def _name_score(names: Sequence[str], name: str, words: Sequence[str]) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None

    def offer(score: int, reason: str) -> None:
        nonlocal best
        if best is None or score > best[0]:
            best = (score, reason)

    for candidate in names:
        candidate_words = candidate.split()
        if candidate == name:
            offer(SCORE_NAME_EXACT, "name matches exactly")
        elif sorted(candidate_words) == sorted(words):
            offer(SCORE_NAME_REORDERED, "name matches (words in another order)")
        elif _contains_words(candidate, words):
            offer(SCORE_NAME_WORDS, "name contains '{name}'")
        elif _prefixes_words(candidate_words, words):
            offer(SCORE_NAME_PREFIX, "name starts like '{name}'")
        elif name.replace(" ", "") in candidate.replace(" ", ""):
            offer(SCORE_NAME_SUBSTRING, "name contains '{name}'")
    return best


def _contains_words(text: str, words: Sequence[str]) -> bool:
    """Every word appears as a whole word, in order and adjacent ("john smith" in "dr john smith")."""
    if not words:
        return False
    return f" {' '.join(words)} " in f" {text} "


def _prefixes_words(candidate_words: Sequence[str], words: Sequence[str]) -> bool:
    """Every searched word starts a different word of the candidate ("jo smi" ~ "john smith")."""
    if not words:
        return False
    available = list(candidate_words)
    for word in words:
        hit = next((w for w in available if w.startswith(word)), None)
        if hit is None:
            return False
        available.remove(hit)
    return True


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
