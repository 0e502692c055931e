"""Customer matching: phone, email and name normalisation, and ranking candidates."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from qb_mcp.bookkeeping.matching import (
    CustomerSearch,
    Phone,
    _fold_unicode,
    display_name_matches,
    email_matches,
    normalise_email,
    normalise_name,
    normalise_phone,
    phone_match,
    phone_matches,
    rank_customers,
)
from qb_mcp.errors import InvalidArgumentError


def customer(
    id_: str,
    display: str,
    *,
    given: str = "",
    family: str = "",
    company: str = "",
    email: str = "",
    phone: str = "",
    mobile: str = "",
    active: bool = True,
    balance: str = "0",
) -> dict[str, Any]:
    """A customer in QuickBooks' wire shape."""
    row: dict[str, Any] = {"Id": id_, "DisplayName": display, "Active": active}
    row["Balance"] = balance
    if given:
        row["GivenName"] = given
    if family:
        row["FamilyName"] = family
    if company:
        row["CompanyName"] = company
    if email:
        row["PrimaryEmailAddr"] = {"Address": email}
    if phone:
        row["PrimaryPhone"] = {"FreeFormNumber": phone}
    if mobile:
        row["Mobile"] = {"FreeFormNumber": mobile}
    return row


AMY = customer(
    "1",
    "Amy's Bird Sanctuary",
    given="Amy",
    family="Lauterbach",
    company="Amy's Bird Sanctuary",
    email="Birds@Intuit.com",
    phone="(650) 555-3311",
)
ZOE = customer("2", "Zoë Ångström", given="Zoë", family="Ångström", mobile="+1 415 555 0199")
OBRIEN = customer("3", "O’Brien & Sons, Inc.", company="O’Brien & Sons, Inc.", phone="555-7788")
OLD_AMY = customer("4", "Amy Lauterbach (old)", email="birds@intuit.com", active=False)
SMITH = customer("5", "John Smith", given="John", family="Smith", email="john@smith.example")
CANDIDATES = [AMY, ZOE, OBRIEN, OLD_AMY, SMITH]


def ids(matches: list[Any]) -> list[str]:
    return [m.customer["Id"] for m in matches]


# --- phones -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "(650) 555-3311",
        "650.555.3311",
        "650-555-3311",
        "+1 650 555 3311",
        "1-650-555-3311",
        "001 650 555 3311",
        "６５０ ５５５ ３３１１",  # full-width digits
    ],
)
def test_nanp_spellings_are_one_number(written: str) -> None:
    assert normalise_phone(written) == Phone("6505553311")


@pytest.mark.parametrize(
    ("written", "extension"),
    [
        ("650-555-3311 x12", "12"),
        ("650-555-3311x12", "12"),
        ("650 555 3311 ext. 12", "12"),
        ("650 555 3311 ext12", "12"),
        ("650 555 3311 extension 12", "12"),
        ("650 555 3311 #12", "12"),
    ],
)
def test_extensions_are_split_off(written: str, extension: str) -> None:
    assert normalise_phone(written) == Phone("6505553311", extension)


def test_international_number_keeps_its_country_code() -> None:
    assert normalise_phone("+44 20 7946 0958") == Phone("442079460958", international=True)
    assert normalise_phone("0044 20 7946 0958") == Phone("442079460958", international=True)


@pytest.mark.parametrize(
    ("a", "b", "how"),
    [
        ("(650) 555-3311", "+1 650 555 3311", "exact"),
        ("+44 20 7946 0958", "020 7946 0958", "exact"),
        ("+33 1 23 45 67 89", "01 23 45 67 89", "exact"),
        ("555-3311", "(650) 555-3311", "suffix"),
        ("650 555 3311 x12", "650 555 3311", "exact"),
        ("650 555 3311 x12", "650 555 3311 x13", None),
        ("(650) 555-3311", "(650) 555-3312", None),
        ("+44 20 7946 0958", "+49 20 7946 0958", None),
        ("12", "12", None),
        ("", "650 555 3311", None),
    ],
)
def test_phone_match(a: str, b: str, how: str | None) -> None:
    assert phone_match(a, b) == how
    assert phone_match(b, a) == how


def test_text_without_digits_is_no_phone() -> None:
    assert normalise_phone("call me") is None
    assert normalise_phone(None) is None


# --- emails and names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [" Birds@Intuit.com ", "BIRDS@INTUIT.COM", "mailto:birds@intuit.com", "Amy <birds@intuit.com>"],
)
def test_email_spellings_are_one_address(written: str) -> None:
    assert normalise_email(written) == "birds@intuit.com"


def test_gmail_dots_and_tags_are_kept() -> None:
    assert normalise_email("a.b+crm@gmail.com") == "a.b+crm@gmail.com"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("O'Brien", "O’Brien"),
        ("O'Brien", "OBrien"),
        ("Zoë Ångström", "zoe angstrom"),
        ("Straße", "STRASSE"),
        ("Søren", "Soren"),
        ("Smith & Sons", "smith and sons"),
        ("Acme, Inc.", "ACME INC"),
        ("  John   Smith ", "john smith"),
        ("İstanbul", "istanbul"),
    ],
)
def test_names_fold_to_the_same_text(a: str, b: str) -> None:
    assert normalise_name(a) == normalise_name(b)


def test_names_in_other_scripts_are_kept() -> None:
    assert normalise_name("Иван Петров") == "иван петров"
    assert normalise_name("山田 太郎") == "山田 太郎"


def test_predicates_for_upsert() -> None:
    assert email_matches(AMY, "BIRDS@intuit.com ")
    assert not email_matches(AMY, "other@intuit.com")
    assert phone_matches(AMY, "+1 650 555 3311")
    assert not phone_matches(AMY, "555-3311")  # a suffix is not enough to update a record
    assert display_name_matches(AMY, "amy’s bird sanctuary")
    assert not display_name_matches(AMY, "Amy")


def test_several_addresses_in_one_field_each_count() -> None:
    row = customer("9", "Two Mails", email="a@x.example, B@y.example")
    assert email_matches(row, "b@y.example") and email_matches(row, "a@x.example")


# --- ranking ------------------------------------------------------------------------------------


def test_email_match_ranks_first_and_says_why() -> None:
    matches = rank_customers(CANDIDATES, CustomerSearch(email="BIRDS@intuit.com"))
    assert ids(matches) == ["1", "4"]  # the active one before the inactive one
    assert matches[0].reasons == ("email matches",)
    assert "inactive" in matches[1].reasons


def test_phone_match_in_any_format() -> None:
    matches = rank_customers(CANDIDATES, CustomerSearch(phone="+1 (650) 555-3311"))
    assert ids(matches) == ["1"] and matches[0].reasons == ("phone matches",)


def test_mobile_match_says_mobile() -> None:
    matches = rank_customers(CANDIDATES, CustomerSearch(phone="415.555.0199"))
    assert ids(matches) == ["2"] and matches[0].reasons == ("mobile matches",)


def test_phone_without_area_code_is_a_weaker_match() -> None:
    full = rank_customers(CANDIDATES, CustomerSearch(phone="650 555 3311"))[0]
    part = rank_customers(CANDIDATES, CustomerSearch(phone="555 3311"))[0]
    assert part.customer["Id"] == "1" and part.score < full.score
    assert part.reasons == ("phone ends with the same digits",)


def test_partial_name_contains() -> None:
    matches = rank_customers(CANDIDATES, CustomerSearch(name="smith"))
    assert ids(matches) == ["5"] and matches[0].reasons == ("name contains 'smith'",)


def test_name_with_accents_and_apostrophes() -> None:
    assert ids(rank_customers(CANDIDATES, CustomerSearch(name="zoe angstrom"))) == ["2"]
    assert ids(rank_customers(CANDIDATES, CustomerSearch(name="O'Brien"))) == ["3"]


def test_exact_name_beats_partial_name() -> None:
    matches = rank_customers(CANDIDATES, CustomerSearch(name="Amy's Bird Sanctuary"))
    assert ids(matches)[0] == "1" and matches[0].reasons == ("name matches exactly",)


def test_name_word_prefixes_match() -> None:
    matches = rank_customers(CANDIDATES, CustomerSearch(name="jo smi"))
    assert ids(matches) == ["5"] and matches[0].reasons == ("name starts like 'jo smi'",)


def test_reordered_name_matches() -> None:
    matches = rank_customers(CANDIDATES, CustomerSearch(name="Smith John"))
    assert ids(matches) == ["5"]


def test_company_search() -> None:
    matches = rank_customers(CANDIDATES, CustomerSearch(company="o'brien & sons"))
    assert ids(matches) == ["3"] and matches[0].reasons == ("company contains 'o'brien & sons'",)


def test_several_fields_add_up() -> None:
    both = rank_customers(CANDIDATES, CustomerSearch(name="Amy", email="birds@intuit.com"))
    assert ids(both)[0] == "1"
    assert set(both[0].reasons) == {"email matches", "name contains 'Amy'"}
    assert both[0].matched_on == {"email", "name"}


def test_different_email_lowers_a_name_match() -> None:
    matches = rank_customers(CANDIDATES, CustomerSearch(name="John Smith", email="js@elsewhere.io"))
    assert ids(matches) == ["5"]
    assert "email differs" in matches[0].reasons
    alone = rank_customers(CANDIDATES, CustomerSearch(name="John Smith"))[0]
    assert matches[0].score < alone.score


def test_email_domain_search() -> None:
    matches = rank_customers(CANDIDATES, CustomerSearch(email="@intuit.com"))
    assert ids(matches) == ["1", "4"]
    assert matches[0].reasons == ("email domain is intuit.com",)


def test_no_match_gives_nothing() -> None:
    assert rank_customers(CANDIDATES, CustomerSearch(name="Nobody Here")) == []


def test_limit_keeps_the_best() -> None:
    assert ids(rank_customers(CANDIDATES, CustomerSearch(email="@intuit.com"), limit=1)) == ["1"]


def test_odd_candidate_fields_do_not_crash() -> None:
    odd: dict[str, Any] = {"Id": "8", "DisplayName": None, "PrimaryEmailAddr": "not-a-dict"}
    odd["PrimaryPhone"] = {"FreeFormNumber": 6505553311}
    matches = rank_customers([odd], CustomerSearch(phone="650-555-3311"))
    assert ids(matches) == ["8"]


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "at least one"),
        ({"name": "   "}, "at least one"),
        ({"name": "!!!"}, "no letters"),
        ({"email": "not an address"}, "email must be"),
        ({"phone": "12"}, "at least 7 digits"),
        ({"phone": "call me"}, "at least 7 digits"),
        ({"name": "x" * 501}, "at most 500"),
        ({"phone": "1" * 61}, "at most 60"),
        ({"name": 42}, "must be text"),
    ],
)
def test_bad_search_is_refused(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        CustomerSearch(**kwargs)


def test_bad_candidates_and_limit_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="candidate 1"):
        rank_customers([AMY, "nope"], CustomerSearch(name="amy"))  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError, match="limit"):
        rank_customers(CANDIDATES, CustomerSearch(name="amy"), limit=0)


# --- properties ---------------------------------------------------------------------------------

area = st.integers(200, 999)
exchange = st.integers(200, 999)
line = st.integers(0, 9999)
separators = st.sampled_from(["", " ", "-", ".", "  "])


@given(area, exchange, line, separators, st.sampled_from(["", "+1 ", "1-", "+1", "001 "]))
def test_every_nanp_format_matches_the_plain_digits(
    a: int, e: int, n: int, sep: str, prefix: str
) -> None:
    plain = f"{a}{e}{n:04d}"
    written = f"{prefix}({a}){sep}{e}{sep}{n:04d}"
    assert phone_match(written, plain) == "exact"
    assert normalise_phone(written) == Phone(plain)


@given(area, exchange, line, area, exchange, line)
def test_different_nanp_numbers_never_match_exactly(
    a1: int, e1: int, n1: int, a2: int, e2: int, n2: int
) -> None:
    assume((a1, e1, n1) != (a2, e2, n2))
    assert phone_match(f"{a1}{e1}{n1:04d}", f"+1 {a2} {e2} {n2:04d}") != "exact"


@given(st.text(max_size=80))
def test_normalise_name_is_idempotent_and_plain(text: str) -> None:
    once = normalise_name(text)
    assert normalise_name(once) == once
    assert once == once.strip() and "  " not in once
    assert not any(unicodedata.combining(c) for c in once)
    assert once == once.casefold()


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
def test_ascii_names_fold_as_the_unicode_path_folds_them(text: str) -> None:
    # normalise_name skips the Unicode passes for ASCII text (a sync's matching speed).
    assert normalise_name(text) == (_fold_unicode(text) if text else "")


@given(st.text(max_size=40))
def test_phone_digits_are_ascii_digits_only(text: str) -> None:
    phone = normalise_phone(text)
    assert phone is None or (phone.digits.isascii() and phone.digits.isdigit())


@given(st.text(max_size=80))
def test_normalise_email_is_idempotent(text: str) -> None:
    once = normalise_email(text)
    assert normalise_email(once) == once


@given(st.text(max_size=60), st.text(max_size=60))
def test_phone_match_is_symmetric_and_never_crashes(a: str, b: str) -> None:
    assert phone_match(a, b) == phone_match(b, a)


names = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), min_size=1, max_size=30
)


@given(names)
def test_a_customer_always_finds_itself_by_display_name(name: str) -> None:
    assume(normalise_name(name))
    row = customer("1", name)
    matches = rank_customers([row], CustomerSearch(name=name))
    assert ids(matches) == ["1"] and matches[0].reasons == ("name matches exactly",)


search_texts = st.one_of(st.none(), st.text(max_size=40))


@settings(max_examples=200)
@given(search_texts, search_texts, search_texts, search_texts)
def test_any_search_ranks_or_is_refused(
    name: str | None, email: str | None, phone: str | None, company: str | None
) -> None:
    try:
        search = CustomerSearch(name=name, email=email, phone=phone, company=company)
    except InvalidArgumentError as exc:
        assert str(exc)
        return
    matches = rank_customers(CANDIDATES, search)
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert all(m.reasons and m.matched_on for m in matches)
