"""Generate this environment's datasets: deterministic, seeded, standard library only.

    python environments/math/data/generate.py            # rewrite example/train/validation.jsonl here
    python environments/math/data/generate.py --out DIR  # write them into DIR instead

Four kinds of problem, each at difficulty 1-3, every answer exact (an integer or a fraction, "-5/2"):
arithmetic (integer expressions), linear_equation (solve for x), fraction (fraction arithmetic) and
word_problem (templated stories). Rows cycle through kind and difficulty, so any prefix is balanced.
No prompt appears twice in or across the three files. The 5 example rows carry a script for gymbox's
scripted test model (`metadata.gymbox_script`); train and validation rows are for real models.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

SEED = 20250601
SIZES = {"train": 1000, "validation": 200}
KINDS = ("arithmetic", "linear_equation", "fraction", "word_problem")
INSTRUCTION = (
    "Solve the problem. Think step by step, then give the final answer as an exact number "
    "(an integer or a fraction such as -5/2, not a rounded decimal) inside \\boxed{}, "
    "for example \\boxed{-5/2}."
)
NAMES = (
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Keiko",
    "Liam",
    "Maya",
    "Nikhil",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sami",
    "Tariq",
    "Uma",
    "Vera",
    "Wen",
    "Yusuf",
)

ANY_NAME = re.compile(r"\b(?:" + "|".join(NAMES) + r")\b")
Problem = tuple[str, Fraction]  # (the problem's text, its exact answer)


def answer_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


# ------------------------------------------------------------------ arithmetic


def _expression(rng: random.Random, operators: int) -> tuple[str, Fraction]:
    """An integer expression with `operators` binary operators, every intermediate value an integer."""
    start = rng.randint(2, 30)
    text, value, precedence = str(start), Fraction(start), 3
    for _ in range(operators):
        divisors = [d for d in range(2, 13) if value and value % d == 0]
        op = rng.choice("+-*/" if divisors else "+-*")
        operand = rng.choice(divisors) if op == "/" else rng.randint(2, 12 if op == "*" else 60)
        strength = 2 if op in "*/" else 1
        inner = f"({text})" if strength > precedence else text
        # + and * may take the new number first; - and / keep the running expression on the left.
        text = f"{inner} {op} {operand}" if op in "-/" or rng.random() < 0.5 else f"{operand} {op} {inner}"
        value = {"+": value + operand, "-": value - operand, "*": value * operand, "/": value / operand}[op]
        precedence = strength
    return text, value


def arithmetic(rng: random.Random, difficulty: int) -> Problem:
    text, value = _expression(rng, difficulty + 1)
    return f"Compute {text}.", value


# ------------------------------------------------------------------ linear equations


def _linear(a: int, b: int) -> str:
    """`ax + b`, written the way people write it: x, -x, 3x - 4."""
    x = {1: "x", -1: "-x"}.get(a, f"{a}x")
    return x if b == 0 else f"{x} {'+' if b > 0 else '-'} {abs(b)}"


def linear_equation(rng: random.Random, difficulty: int) -> Problem:
    nonzero = [n for n in range(-9, 10) if n != 0]
    for _ in range(1000):  # draw until the constants come out whole (a few draws at most)
        if difficulty == 1:  # ax + b = c, x an integer
            x = Fraction(rng.randint(-15, 20))
            a, b = rng.choice([n for n in nonzero if n != 1]), rng.randint(-40, 40)
            return f"Solve for x: {_linear(a, b)} = {a * x + b}.", x
        if difficulty == 2:  # ax + b = cx + d, x an integer, a half or a third
            x = Fraction(rng.randint(-12, 12), rng.choice([1, 1, 2, 3]))
            (a, c), b = rng.sample(nonzero, 2), rng.randint(-30, 30)
            right = a * x + b - c * x
            if right.denominator == 1:
                return f"Solve for x: {_linear(a, b)} = {_linear(c, int(right))}.", x
        else:  # a(x + b) = c(x + d) + e, x a fraction
            x = Fraction(rng.randint(-20, 20), rng.randint(2, 7))
            (a, c), (b, d) = rng.sample(range(2, 10), 2), rng.sample(nonzero, 2)
            e = a * (x + b) - c * (x + d)
            if e.denominator == 1 and x.denominator > 1:
                rest = f" {'+' if e > 0 else '-'} {abs(e)}" if e else ""
                return f"Solve for x: {a}({_linear(1, b)}) = {c}({_linear(1, d)}){rest}.", x
    raise RuntimeError(f"no linear equation of difficulty {difficulty} in 1000 draws")


# ------------------------------------------------------------------ fractions


OPERATIONS: dict[str, Callable[[Fraction, Fraction], Fraction]] = {
    "+": Fraction.__add__,
    "-": Fraction.__sub__,
    "*": Fraction.__mul__,
    "/": Fraction.__truediv__,
}


def _fraction(rng: random.Random, top: int) -> Fraction:
    """A positive fraction that is not a whole number, its denominator at most `top`."""
    while (value := Fraction(rng.randint(1, 2 * top), rng.randint(2, top))).denominator == 1:
        pass
    return value


def _term(first: Fraction, op: str, second: Fraction) -> str:
    """`7/3 + 1/4`, `(7/3) / (1/4)`: a product or quotient of fractions reads ambiguously without brackets."""
    if op in "*/":
        return f"({answer_text(first)}) {op} ({answer_text(second)})"
    return f"{answer_text(first)} {op} {answer_text(second)}"


def fraction_problem(first: Fraction, op: str, second: Fraction) -> Problem:
    return f"Compute {_term(first, op, second)}. Simplify the result.", OPERATIONS[op](first, second)


def fraction(rng: random.Random, difficulty: int) -> Problem:
    first, second = _fraction(rng, 6 + 3 * difficulty), _fraction(rng, 6 + 3 * difficulty)
    op = rng.choice("+-" if difficulty == 1 else "*/" if difficulty == 2 else "+-*/")
    if difficulty < 3:
        return fraction_problem(first, op, second)
    # a third term, added or taken away after the first operation
    third, outer = _fraction(rng, 12), rng.choice("+-")
    value = OPERATIONS[outer](OPERATIONS[op](first, second), third)
    text = f"({_term(first, op, second)}) {outer} {answer_text(third)}"
    return f"Compute {text}. Simplify the result.", value


# ------------------------------------------------------------------ word problems


def _shopping(rng: random.Random, name: str) -> Problem:
    price_a, price_b, count_a, count_b = rng.randint(2, 9), rng.randint(2, 15), rng.randint(2, 8), rng.randint(1, 6)
    paid = (count_a * price_a + count_b * price_b) // 10 * 10 + 10 * rng.randint(1, 3)
    text = (
        f"A notebook costs ${price_a} and a box of pens costs ${price_b}. {name} buys {count_a} notebooks and "
        f"{count_b} boxes of pens, and pays with ${paid}. How many dollars of change does {name} get?"
    )
    return text, Fraction(paid - count_a * price_a - count_b * price_b)


def _sharing(rng: random.Random, name: str) -> Problem:
    boxes, per_box, eaten = rng.randint(3, 12), rng.randint(4, 15), rng.randint(1, 9)
    text = (
        f"{name} baked {boxes * per_box + eaten} cookies, ate {eaten} of them, and packed the rest equally "
        f"into {boxes} boxes. How many cookies are in each box?"
    )
    return text, Fraction(per_box)


def _travel(rng: random.Random, name: str) -> Problem:
    speed, distance = rng.choice([40, 45, 48, 50, 60, 64, 72, 80, 90]), rng.randint(30, 400)
    text = (
        f"{name} drives {distance} km at a steady {speed} km per hour. How many hours does the trip take? "
        "Give the exact number of hours."
    )
    return text, Fraction(distance, speed)


def _ages(rng: random.Random, name: str) -> Problem:
    child, factor, years = rng.randint(3, 15), rng.randint(2, 5), rng.randint(2, 10)
    total = child * (factor + 1) + 2 * years
    text = (
        f"{name} is {factor} times as old as a younger cousin. In {years} years, the sum of their ages will be "
        f"{total}. How old is {name} now?"
    )
    return text, Fraction(child * factor)


def _discount(rng: random.Random, name: str) -> Problem:
    price, percent = 20 * rng.randint(1, 30), rng.choice([10, 15, 20, 25, 30, 40, 50, 75])
    text = f"A jacket costs ${price}. {name} buys it in a sale at {percent}% off. How many dollars does {name} pay?"
    return text, Fraction(price * (100 - percent), 100)


def _part_of(rng: random.Random, name: str) -> Problem:
    denominator = rng.randint(3, 8)
    part, total = Fraction(rng.randint(1, denominator - 1), denominator), denominator * rng.randint(3, 12)
    text = (
        f"{name}'s class has {total} students, and {answer_text(part)} of them walk to school. How many students "
        "do not walk to school?"
    )
    return text, total - part * total


def _savings(rng: random.Random, name: str) -> Problem:
    weekly, start, weeks = rng.randint(5, 40), rng.randint(0, 100), rng.randint(2, 20)
    text = (
        f"{name} has ${start} and saves ${weekly} every week. After how many weeks will {name} have exactly "
        f"${start + weekly * weeks}?"
    )
    return text, Fraction(weeks)


def _rate(rng: random.Random, name: str) -> Problem:
    per_minute, litres = rng.randint(3, 16), rng.randint(20, 300)
    text = (
        f"A tap fills a tank at {per_minute} litres per minute. {name} needs {litres} litres. How many minutes "
        "does it take? Give the exact number of minutes."
    )
    return text, Fraction(litres, per_minute)


STORIES: dict[int, tuple[Callable[[random.Random, str], Problem], ...]] = {
    1: (_sharing, _savings, _part_of),
    2: (_shopping, _discount, _rate),
    3: (_travel, _ages, _rate, _discount),
}


def word_problem(rng: random.Random, difficulty: int) -> Problem:
    return rng.choice(STORIES[difficulty])(rng, rng.choice(NAMES))


GENERATORS: dict[str, Callable[[random.Random, int], Problem]] = {
    "arithmetic": arithmetic,
    "linear_equation": linear_equation,
    "fraction": fraction,
    "word_problem": word_problem,
}


# ------------------------------------------------------------------ rows


def row(
    index: int, kind: str, difficulty: int, problem: Problem, script: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    text, answer = problem
    params: dict[str, Any] = {"input": [{"role": "user", "content": f"{text}\n\n{INSTRUCTION}"}], "tools": []}
    if script is not None:
        params["metadata"] = {"gymbox_script": json.dumps(script, separators=(",", ":"))}
    return {
        "responses_create_params": params,
        "id": index,
        "problem_type": kind,
        "difficulty": difficulty,
        "expected_answer": answer_text(answer),
    }


def latex(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    sign = "-" if value < 0 else ""
    return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


def example_rows(rng: random.Random, unique: Callable[[Problem], bool]) -> list[dict[str, Any]]:
    """5 rows, one script each: rows 0-3 right in different forms (1.0), row 4 a classic mistake (0.0)."""

    def fresh(make: Callable[[], Problem]) -> Problem:
        for _ in range(1000):
            if unique(problem := make()):
                return problem
        raise RuntimeError("no fresh example problem in 1000 draws")

    sum_ = fresh(lambda: arithmetic(rng, 2))
    equation = fresh(lambda: linear_equation(rng, 3))
    product = fresh(lambda: fraction_problem(_fraction(rng, 12), "*", _fraction(rng, 12)))
    story = fresh(lambda: _sharing(rng, rng.choice(NAMES)))
    addition = fresh(lambda: fraction_problem(_fraction(rng, 9), "+", _fraction(rng, 9)))
    a, b = (Fraction(term) for term in addition[0].removeprefix("Compute ").partition(".")[0].split(" + "))
    mediant = Fraction(a.numerator + b.numerator, a.denominator + b.denominator)  # adds tops and bottoms
    double = product[1]
    scripts = [
        [{"say": f"Working it out step by step gives {answer_text(sum_[1])}.\n\n\\boxed{{{answer_text(sum_[1])}}}"}],
        [
            {
                "think": "Expand both sides, collect the x terms, divide.",
                "say": f"So x = {latex(equation[1])}, that is \\boxed{{x = {latex(equation[1])}}}.",
            }
        ],
        [{"say": f"Before simplifying: \\boxed{{{2 * double.numerator}/{2 * double.denominator}}}"}],
        [{"say": f"Each box holds {story[1]} cookies."}],
        [{"say": f"Add the tops and add the bottoms: \\boxed{{{answer_text(mediant)}}}"}],
    ]
    problems = [
        ("arithmetic", 2, sum_),
        ("linear_equation", 3, equation),
        ("fraction", 2, product),
        ("word_problem", 1, story),
        ("fraction", 1, addition),
    ]
    return [row(i, kind, difficulty, problem, scripts[i]) for i, (kind, difficulty, problem) in enumerate(problems)]


def datasets(seed: int = SEED) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    seen: set[str] = set()

    def unique(problem: Problem) -> bool:
        key = ANY_NAME.sub("someone", problem[0])  # the same story told of another person is the same problem
        if key in seen:
            return False
        seen.add(key)
        return True

    out = {"example": example_rows(rng, unique)}
    for split, size in SIZES.items():
        rows: list[dict[str, Any]] = []
        for attempt in range(100 * size):  # noqa: B007  # bounded: each (kind, difficulty) has far more than enough problems
            if len(rows) == size:
                break
            kind, difficulty = KINDS[len(rows) % len(KINDS)], 1 + len(rows) // len(KINDS) % 3
            problem = GENERATORS[kind](rng, difficulty)
            if unique(problem):
                rows.append(row(len(rows), kind, difficulty, problem))
        else:
            raise RuntimeError(f"{split}: only {len(rows)} distinct problems after {attempt + 1} attempts")
        out[split] = rows
    return out


def write(out_dir: Path, seed: int = SEED) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for split, rows in datasets(seed).items():
        path = out_dir / f"{split}.jsonl"
        path.write_bytes("".join(json.dumps(r, ensure_ascii=True) + "\n" for r in rows).encode())
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="folder to write into")
    args = parser.parse_args()
    for path in write(args.out):
        print(f"wrote {path}")  # noqa: T201


if __name__ == "__main__":
    main()
