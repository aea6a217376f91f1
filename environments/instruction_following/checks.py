"""Verifiable instructions, IFEval-style: how each is stated to the model, and how a response is checked.

An instruction is a JSON object `{"type": <type>, ...its parameters}`, as the task rows carry them:

    {"type": "min_words", "n": 50}                 at least n words
    {"type": "max_words", "n": 120}                at most n words
    {"type": "include_keywords", "keywords": [..]} every keyword appears (whole words, any case)
    {"type": "forbidden_words", "words": [..]}     none of the words appears (whole words, any case)
    {"type": "keyword_frequency", "keyword": k, "n": 3}  k appears at least n times
    {"type": "bullet_count", "n": 4}               exactly n lines start with "* " or "- "
    {"type": "lowercase"}                          no capital letters
    {"type": "uppercase"}                          no lower-case letters
    {"type": "start_phrase", "phrase": p}          the response starts with p, exactly
    {"type": "end_phrase", "phrase": p}            the response ends with p, exactly
    {"type": "paragraph_count", "n": 3}            exactly n paragraphs, separated by blank lines
    {"type": "no_commas"}                          no comma anywhere
    {"type": "title"}                              a title wrapped in double angular brackets: <<title>>

`check(instruction, text)` says whether a response follows one; `describe(instruction)` is the sentence the
prompt uses for it; `validate(instruction)` raises ValueError for an unknown type or bad parameters.
Standard library only: the data generator imports this module too.

A word is a run of letters or digits, with inner apostrophes or hyphens ("don't", "well-known" are one
word). Leading/trailing whitespace never counts. A response with no words at all follows no instruction,
so an empty answer cannot collect the "negative" ones (max_words, forbidden_words, no_commas).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

WORD = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*")  # an apostrophe (straight or curly) or a hyphen inside a word
BULLET = re.compile(r"[*-] ")
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
TITLE = re.compile(r"<<[^<>\n]*[^\W_][^<>\n]*>>")
COMMAS = (",", "\uff0c", "\u3001")  # ASCII, full-width and ideographic


def words(text: str) -> list[str]:
    return WORD.findall(text)


def occurrences(text: str, phrase: str) -> int:
    """How many times `phrase` appears as whole words, any case, any spacing between its words."""
    body = r"\s+".join(re.escape(part) for part in phrase.split())
    return len(re.findall(rf"(?<![^\W_]){body}(?![^\W_])", text, re.IGNORECASE))


def bullets(text: str) -> int:
    return sum(1 for line in text.splitlines() if BULLET.match(line.lstrip()))


def paragraphs(text: str) -> int:
    return sum(1 for block in PARAGRAPH_BREAK.split(text.strip()) if block.strip())


def quoted(items: list[str], joiner: str) -> str:
    parts = [f'"{item}"' for item in items]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} {joiner} {parts[-1]}"


# type -> (parameters and their types, the check, the sentence for the prompt)
Spec = tuple[dict[str, type], Callable[[dict[str, Any], str], bool], Callable[[dict[str, Any]], str]]
INSTRUCTIONS: dict[str, Spec] = {
    "min_words": ({"n": int}, lambda i, t: len(words(t)) >= i["n"], lambda i: f"Use at least {i['n']} words."),
    "max_words": ({"n": int}, lambda i, t: len(words(t)) <= i["n"], lambda i: f"Use at most {i['n']} words."),
    "include_keywords": (
        {"keywords": list},
        lambda i, t: all(occurrences(t, k) for k in i["keywords"]),
        lambda i: f"Include the word{'s' * (len(i['keywords']) > 1)} {quoted(i['keywords'], 'and')}.",
    ),
    "forbidden_words": (
        {"words": list},
        lambda i, t: not any(occurrences(t, w) for w in i["words"]),
        lambda i: f"Do not use the word{'s' * (len(i['words']) > 1)} {quoted(i['words'], 'or')} anywhere.",
    ),
    "keyword_frequency": (
        {"keyword": str, "n": int},
        lambda i, t: occurrences(t, i["keyword"]) >= i["n"],
        lambda i: f'Use the word "{i["keyword"]}" at least {i["n"]} times.',
    ),
    "bullet_count": (
        {"n": int},
        lambda i, t: bullets(t) == i["n"],
        lambda i: (
            f'Include exactly {i["n"]} bullet points: lines that start with "* " or "- ". '
            "No other line may start that way."
        ),
    ),
    "lowercase": (
        {},
        lambda i, t: t.islower(),
        lambda i: "Write your entire response in lowercase letters: no capital letters at all.",
    ),
    "uppercase": (
        {},
        lambda i, t: t.isupper(),
        lambda i: "Write your entire response in capital letters: no lowercase letters at all.",
    ),
    "start_phrase": (
        {"phrase": str},
        lambda i, t: t.lstrip().startswith(i["phrase"]),
        lambda i: f'Start your response with the exact phrase "{i["phrase"]}".',
    ),
    "end_phrase": (
        {"phrase": str},
        lambda i, t: t.rstrip().endswith(i["phrase"]),
        lambda i: f'End your response with the exact phrase "{i["phrase"]}", with nothing after it.',
    ),
    "paragraph_count": (
        {"n": int},
        lambda i, t: paragraphs(t) == i["n"],
        lambda i: f"Write exactly {i['n']} paragraphs, separated from each other by a blank line.",
    ),
    "no_commas": ({}, lambda i, t: not any(comma in t for comma in COMMAS), lambda i: "Do not use any commas."),
    "title": (
        {},
        lambda i, t: TITLE.search(t) is not None,
        lambda i: "Give your response a title wrapped in double angular brackets, such as <<my title>>.",
    ),
}


def validate(instruction: Any) -> None:
    """Raise ValueError unless `instruction` is a known type with exactly its parameters, well typed."""
    if not isinstance(instruction, dict) or instruction.get("type") not in INSTRUCTIONS:
        kind = instruction.get("type") if isinstance(instruction, dict) else instruction
        raise ValueError(f"unknown instruction {kind!r}; known: {', '.join(sorted(INSTRUCTIONS))}")
    params, _, _ = INSTRUCTIONS[instruction["type"]]
    given = set(instruction) - {"type"}
    if given != set(params):
        raise ValueError(f"{instruction['type']} takes {sorted(params) or 'no parameters'}, got {sorted(given)}")
    for name, kind in params.items():
        value = instruction[name]
        if kind is int and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValueError(f"{instruction['type']}.{name} must be a whole number >= 0, got {value!r}")
        if kind is str and not (isinstance(value, str) and value.strip()):
            raise ValueError(f"{instruction['type']}.{name} must be a non-empty string, got {value!r}")
        if kind is list and not (
            isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value)
        ):
            raise ValueError(f"{instruction['type']}.{name} must be a non-empty list of non-empty strings")


def check(instruction: dict[str, Any], text: str) -> bool:
    """Whether `text` follows the (valid) instruction. A response without a single word follows none."""
    if not words(text):
        return False
    return INSTRUCTIONS[instruction["type"]][1](instruction, text)


def describe(instruction: dict[str, Any]) -> str:
    return INSTRUCTIONS[instruction["type"]][2](instruction)
