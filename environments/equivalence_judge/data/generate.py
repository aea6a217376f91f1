"""Generate equivalence_judge's datasets: short factual questions with a reference answer each.

    python environments/equivalence_judge/data/generate.py [--out DIR]

Deterministic (one seeded `random.Random`, stdlib only) and byte-for-byte reproducible: tests/test_app.py
runs it into a temp dir and compares the files with the committed ones. Five kinds of question, each
with its own reference form (a bare integer, a decimal with a unit, a fraction, a percentage, a city):

- arithmetic:  "What is 37 times 24?"                              -> "888"
- conversion:  "How many metres are there in 3.5 kilometres?"      -> "3500 metres"
- fraction:    "What is 3/4 + 1/8? Give a fraction in lowest terms." -> "7/8"
- percentage:  "What percentage of 80 is 20?"                      -> "25%"
- capital:     "What is the capital city of Canada?"               -> "Ottawa"

Writes example.jsonl (5 rows, each with a scripted-model script), train.jsonl (200) and
validation.jsonl (50). No prompt appears in two files.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

SEED = 20261123
N_TRAIN, N_VALIDATION = 200, 50
FORMAT_INSTRUCTION = "Answer briefly, and put only your final answer in \\boxed{}, e.g. \\boxed{42}."

CAPITALS = (
    ("Argentina", "Buenos Aires"),
    ("Australia", "Canberra"),
    ("Austria", "Vienna"),
    ("Belgium", "Brussels"),
    ("Brazil", "Brasília"),
    ("Canada", "Ottawa"),
    ("Chile", "Santiago"),
    ("China", "Beijing"),
    ("Colombia", "Bogotá"),
    ("Czechia", "Prague"),
    ("Denmark", "Copenhagen"),
    ("Egypt", "Cairo"),
    ("Finland", "Helsinki"),
    ("France", "Paris"),
    ("Germany", "Berlin"),
    ("Greece", "Athens"),
    ("Hungary", "Budapest"),
    ("India", "New Delhi"),
    ("Indonesia", "Jakarta"),
    ("Ireland", "Dublin"),
    ("Italy", "Rome"),
    ("Japan", "Tokyo"),
    ("Kenya", "Nairobi"),
    ("Mexico", "Mexico City"),
    ("Morocco", "Rabat"),
    ("Netherlands", "Amsterdam"),
    ("New Zealand", "Wellington"),
    ("Nigeria", "Abuja"),
    ("Norway", "Oslo"),
    ("Peru", "Lima"),
    ("Poland", "Warsaw"),
    ("Portugal", "Lisbon"),
    ("South Korea", "Seoul"),
    ("Spain", "Madrid"),
    ("Sweden", "Stockholm"),
    ("Switzerland", "Bern"),
    ("Thailand", "Bangkok"),
    ("Turkey", "Ankara"),
    ("the United States", "Washington, D.C."),
    ("Vietnam", "Hanoi"),
)
# (from unit, to unit, factor): 1 <from> = factor <to>
CONVERSIONS = (
    ("kilometres", "metres", 1000),
    ("metres", "centimetres", 100),
    ("kilograms", "grams", 1000),
    ("litres", "millilitres", 1000),
    ("hours", "minutes", 60),
    ("minutes", "seconds", 60),
    ("days", "hours", 24),
    ("weeks", "days", 7),
    ("centimetres", "millimetres", 10),
)


def number_text(value: float) -> str:
    """2.0 -> '2', 2.50 -> '2.5': the shortest exact decimal of a value with at most 3 decimals."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def arithmetic(rng: random.Random) -> tuple[str, str, str]:
    op = rng.choice(("plus", "minus", "times"))
    if op == "times":
        a, b = rng.randint(11, 99), rng.randint(11, 99)
        return f"What is {a} times {b}?", str(a * b), "arithmetic"
    a, b = rng.randint(100, 999), rng.randint(100, 999)
    if op == "minus":
        a, b = max(a, b), min(a, b)
        return f"What is {a} minus {b}?", str(a - b), "arithmetic"
    return f"What is {a} plus {b}?", str(a + b), "arithmetic"


def conversion(rng: random.Random) -> tuple[str, str, str]:
    src, dst, factor = rng.choice(CONVERSIONS)
    amount = rng.choice((0.5, 1.5, 2, 2.5, 3, 3.5, 4, 4.25, 5, 6, 7.5, 8, 9, 12))
    question = f"How many {dst} are there in {number_text(amount)} {src}?"
    return question, f"{number_text(amount * factor)} {dst}", "conversion"


def fraction(rng: random.Random) -> tuple[str, str, str]:
    (an, ad), (bn, bd) = [(rng.randint(1, 7), rng.choice((2, 3, 4, 5, 6, 8))) for _ in range(2)]
    op = rng.choice(("+", "times"))
    value = Fraction(an, ad) + Fraction(bn, bd) if op == "+" else Fraction(an, ad) * Fraction(bn, bd)
    question = f"What is {an}/{ad} {op} {bn}/{bd}? Give the result as a fraction in lowest terms."
    answer = str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    return question, answer, "fraction"


def percentage(rng: random.Random) -> tuple[str, str, str]:
    whole = rng.choice((20, 40, 50, 80, 120, 160, 200, 250, 400, 500))
    percent = rng.choice((5, 10, 15, 20, 25, 30, 40, 60, 75, 90))
    part = whole * percent / 100
    return f"What percentage of {whole} is {number_text(part)}?", f"{percent}%", "percentage"


def capital(rng: random.Random) -> tuple[str, str, str]:
    country, city = rng.choice(CAPITALS)
    return f"What is the capital city of {country}?", city, "capital"


KINDS: tuple[Callable[[random.Random], tuple[str, str, str]], ...] = (
    arithmetic,
    conversion,
    fraction,
    percentage,
    capital,
)


def make_row(index: int, question: str, reference: str, category: str) -> dict[str, Any]:
    prompt = f"{question}\n\n{FORMAT_INSTRUCTION}"
    return {
        "responses_create_params": {"input": [{"role": "user", "content": prompt}], "tools": []},
        "id": index,
        "category": category,
        "question": question,
        "reference_answer": reference,
    }


def unique_questions(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    """`count` distinct questions, the kinds taken in turn (bounded: gives up rather than loop forever)."""
    seen: set[str] = set()
    out: list[tuple[str, str, str]] = []
    for attempt in range(count * 50):
        question, reference, category = KINDS[attempt % len(KINDS)](rng)
        if question not in seen:
            seen.add(question)
            out.append((question, reference, category))
            if len(out) == count:
                return out
    raise RuntimeError(f"could only make {len(out)} distinct questions of {count}")


# The example rows: fixed questions, and what the scripted policy answers (rows 0-3 right, row 4 wrong).
EXAMPLES = (
    ("What is 37 times 24?", "888", "arithmetic", "37 * 24 = 740 + 148 = 888, so the answer is \\boxed{888}."),
    (
        "How many metres are there in 3.5 kilometres?",
        "3500 metres",
        "conversion",
        "One kilometre is 1000 metres, so 3.5 km is \\boxed{3500 metres}.",
    ),
    (
        "What is 3/4 + 1/8? Give the result as a fraction in lowest terms.",
        "7/8",
        "fraction",
        "3/4 = 6/8, and 6/8 + 1/8 = \\boxed{7/8}.",
    ),
    ("What is the capital city of France?", "Paris", "capital", "\\boxed{paris}"),
    (
        "What is the capital city of Australia?",
        "Canberra",
        "capital",
        "The largest city of Australia is Sydney, so: \\boxed{Sydney}",
    ),
)


def example_rows() -> list[dict[str, Any]]:
    rows = []
    for index, (question, reference, category, answer) in enumerate(EXAMPLES):
        row = make_row(index, question, reference, category)
        script = json.dumps([{"say": answer}], ensure_ascii=False, separators=(",", ":"))
        row["responses_create_params"]["metadata"] = {"gymbox_script": script}
        rows.append(row)
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(row, ensure_ascii=False, separators=(", ", ": ")) + "\n" for row in rows)
    path.write_bytes(text.encode("utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="folder to write into")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    examples = {question for question, *_ in EXAMPLES}
    rng = random.Random(SEED)
    pool = [q for q in unique_questions(rng, N_TRAIN + N_VALIDATION + len(EXAMPLES)) if q[0] not in examples]
    pool = pool[: N_TRAIN + N_VALIDATION]
    train = [make_row(i, *q) for i, q in enumerate(pool[:N_TRAIN])]
    validation = [make_row(i, *q) for i, q in enumerate(pool[N_TRAIN:])]
    write_jsonl(out / "example.jsonl", example_rows())
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "validation.jsonl", validation)


if __name__ == "__main__":
    main()
