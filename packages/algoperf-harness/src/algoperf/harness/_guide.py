"""Where the submitter's guide (`docs/submitting.md`) explains what `check-submission` found."""

from __future__ import annotations

GUIDE = "docs/submitting.md"
"""The guide, relative to the repository root."""

SECTIONS = {
    "functions": "the-five-functions",
    "timing": "what-counts-as-submission-time",
    "tuning": "external-and-self-tuning",
    "rules": "what-the-rules-allow",
    "checks": "what-check-submission-checks",
}
"""Anchors of the guide's sections, by topic (a test checks that each heading exists)."""

# First match wins: (words in the problem, topic).
_TOPICS = (
    (
        (
            "missing function",
            "missing method",
            "missing parameter",
            "not in the contract",
            "positional-only",
            "not a function",
            "not a method",
            "defines both",
        ),
        "functions",
    ),
    (("search space", "hyperparameter", "self-tuning", "external tuning"), "tuning"),
    (("syntax error", "importing the file", "no such file", "not a .py file"), "checks"),
    (("--framework",), "checks"),
    (("must return", "returned", "batch size", "get_batch_size"), "functions"),
    (("budget",), "timing"),
)


def guide_link(problem: str) -> str:
    """The guide section that explains `problem` (the checks' section when none matches)."""
    lowered = problem.partition("; expected: def")[0].lower()
    for words, topic in _TOPICS:
        if any(w.lower() in lowered for w in words):
            return f"{GUIDE}#{SECTIONS[topic]}"
    return f"{GUIDE}#{SECTIONS['checks']}"
