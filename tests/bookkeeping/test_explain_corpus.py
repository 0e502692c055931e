"""explain_fault on the errors people actually paste: the corpus in fault_corpus/corpus.json.

Each sample is a text copied from a public issue thread (its source is in the sample and in
fault_corpus/README.md) with what a right explanation says: the cause category, whether retrying
can help, the signal that decided, a phrase the fix must contain and the next tool (or command).
The same samples go through a real MCP client session in both protocol eras, as an assistant
would send them: the text as pasted, and a JSON body also as the object it decodes to.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from qb_mcp.bookkeeping.explain import Explanation, explain_fault, explanation_text
from qb_mcp.config import Settings
from qb_mcp.emulator import Emulator
from tests.server.conftest import MODES, connect

CORPUS_FILE = Path(__file__).with_name("fault_corpus") / "corpus.json"
SAMPLES: list[dict[str, Any]] = json.loads(CORPUS_FILE.read_text(encoding="utf-8"))
BY_ID = {sample["id"]: sample for sample in SAMPLES}
OPTIONAL_FIELDS = (
    "codes",
    "intuit_tid",
    "oauth_error",
    "oauth_description",
    "client_exception",
    "intuit_element",
)


def mismatches(sample: dict[str, Any], explanation: dict[str, Any]) -> list[str]:
    """How an explanation (as a dict, the tool's structured output) misses the expectation."""
    expect = sample["expect"]
    wrong = []
    for key in ("category", "retry", "decided_by"):
        if explanation[key] != expect[key]:
            wrong.append(f"{key}: {explanation[key]!r}, expected {expect[key]!r}")
    if explanation["retryable"] != (expect["retry"] != "no"):
        wrong.append(f"retryable: {explanation['retryable']!r} for retry {expect['retry']!r}")
    if expect["fix"] not in explanation["fix"]:
        wrong.append(f"fix does not mention {expect['fix']!r}: {explanation['fix']!r}")
    tools, steps = explanation["next_tools"], explanation["next_steps"]
    first = tools[0] if tools else steps[0] if steps else None
    if first != expect["next"]:
        wrong.append(f"next: {first!r}, expected {expect['next']!r}")
    if "status_code_read" in expect and explanation["status_code"] != expect["status_code_read"]:
        wrong.append(f"status_code: {explanation['status_code']!r}")
    for key in OPTIONAL_FIELDS:
        if key in expect and explanation[key] != expect[key]:
            wrong.append(f"{key}: {explanation[key]!r}, expected {expect[key]!r}")
    if not explanation["recognised"]:
        wrong.append("not recognised")
    return wrong


def explain_sample(sample: dict[str, Any]) -> Explanation:
    return explain_fault(sample["fault"], status_code=sample.get("status_code"))


# --- the corpus itself ----------------------------------------------------------------------------


def test_corpus_has_sixty_or_more_cited_samples() -> None:
    assert len(SAMPLES) >= 60
    assert len(BY_ID) == len(SAMPLES), "sample ids must be unique"
    for sample in SAMPLES:
        assert sample["source"].startswith(("https://", "http://")) or "#" in sample["source"]


def test_corpus_covers_every_format_the_issue_names() -> None:
    formats = Counter(sample["format"].split(":")[0] for sample in SAMPLES)
    for needed in (
        "json_fault",
        "gateway_json",
        "xml",
        "xml_cut_off",
        "throttle_xml",
        "sdk_text",
        "node_inspect",
    ):
        assert formats[needed] >= 1, needed
    libraries = {sample["format"].split(":")[1] for sample in SAMPLES if ":" in sample["format"]}
    assert {"python-quickbooks", "intuitlib", "intuit-php", "intuit-dotnet", "quickbooks-ruby"} <= (
        libraries
    )
    assert sum(1 for s in SAMPLES if "oauth_error" in s["expect"]) >= 8


def test_corpus_covers_every_retry_answer_and_deciding_signal() -> None:
    assert {s["expect"]["retry"] for s in SAMPLES} == {"yes", "no", "after_refresh"}
    assert {s["expect"]["decided_by"] for s in SAMPLES} >= {
        "oauth_error",
        "detail",
        "message",
        "status",
        "code",
    }


def test_the_readme_lists_every_source() -> None:
    readme = (CORPUS_FILE.parent / "README.md").read_text(encoding="utf-8")
    for sample in SAMPLES:
        assert sample["source"] in readme, sample["source"]


# --- explain_fault on every sample ----------------------------------------------------------------


@pytest.mark.parametrize("sample_id", sorted(BY_ID))
def test_explain_fault_on_a_pasted_error(sample_id: str) -> None:
    sample = BY_ID[sample_id]
    explanation = explain_sample(sample)
    assert mismatches(sample, explanation.model_dump()) == []
    text = explanation_text(explanation)
    assert "\n" not in text and explanation.fix in text


@pytest.mark.parametrize("sample_id", sorted(BY_ID))
def test_the_paragraph_says_which_way_retrying_goes(sample_id: str) -> None:
    explanation = explain_sample(BY_ID[sample_id])
    text = explanation_text(explanation)
    expected = {
        "yes": "Retrying can succeed",
        "no": "Retrying unchanged will not help",
        "after_refresh": "once the access token is refreshed",
    }[explanation.retry]
    assert expected in text


# --- the same samples through a real MCP client session -------------------------------------------


def as_sent(sample: dict[str, Any]) -> list[dict[str, Any]]:
    """The arguments an assistant sends for a sample: the text, and a JSON body as an object."""
    arguments: dict[str, Any] = {"fault": sample["fault"]}
    if "status_code" in sample:
        arguments["status_code"] = sample["status_code"]
    sent = [arguments]
    try:
        decoded = json.loads(sample["fault"])
    except ValueError:
        decoded = None
    if isinstance(decoded, dict):
        sent.append({**arguments, "fault": decoded})
    return sent


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_every_sample_through_mcp_client(tmp_path: Path, mode: str) -> None:
    settings = Settings(home=tmp_path / "home", environment="emulator")
    failures: dict[str, list[str]] = {}
    calls = 0
    async with connect(settings, Emulator(), mode) as session:
        for sample in SAMPLES:
            for arguments in as_sent(sample):
                result = await session.call("explain_fault", arguments)
                calls += 1
                explanation = result["explanation"]
                wrong = mismatches(sample, explanation)
                direct = explain_sample(sample)
                if result["text"] != explanation_text(direct):
                    wrong.append("the tool's text differs from explain_fault's")
                if wrong:
                    label = sample["id"] + (
                        " (object)" if isinstance(arguments["fault"], dict) else ""
                    )
                    failures[label] = wrong
    assert failures == {}
    assert calls > len(SAMPLES)
