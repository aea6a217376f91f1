"""Write this folder's example.jsonl, train.jsonl and validation.jsonl from reasoning-gym's generators.

    python data/generate.py               # rewrite the committed files (needs reasoning-gym==0.1.25)
    python data/generate.py --out /tmp/x  # write them elsewhere, e.g. to compare with the committed ones

Deterministic: each family's dataset is `reasoning_gym.create_dataset(family, seed=SEEDS[split], ...)` with
its default config, read in index order. An item is skipped when its prompt is already in this split or an
earlier one (train, then validation, then example), so no prompt is shared between files; `basic_arithmetic`
items whose answer is not the expression's exact value (reasoning-gym evaluates `/` as floor division) are
skipped too. Rows go round-robin over the families, so any prefix of a file is a mix of them.

Each row carries the task as NeMo Gym's reasoning_gym server reads it: the prompt in
`responses_create_params.input`, and the entry's `question`, `answer` and `metadata` (whose `source_dataset`
names the family), from which the environment re-scores an answer with the family's own `score_answer`.
Only the example rows carry a `metadata.gymbox_script` for gymbox's scripted test model.

Standard library and reasoning-gym only: run it in any Python that has reasoning-gym==0.1.25 installed.
"""

from __future__ import annotations

import argparse
import ast
import json
import operator
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import reasoning_gym

# Keep in step with FAMILIES in ../app.py (the tests check).
FAMILIES = ("basic_arithmetic", "chain_sum", "leg_counting", "letter_counting", "spell_backward", "word_sorting")
SPLITS = {"train": 100, "validation": 25}  # rows per family
SEEDS = {"train": 1_000_000, "validation": 2_000_000, "example": 3_000_000}  # far apart: seed + index never meet
MAX_DRAWS = 20  # per row wanted: how far into a family's dataset to read before giving up
FORMAT_INSTRUCTION = (
    "Think it through as much as you need, then end your reply with the final answer alone between "
    "<answer> and </answer> tags, for example <answer>your answer</answer>."
)
LICENSE = "Apache-2.0"


# ------------------------------------------------------------------ items


def exact_value(expression: str) -> Fraction:
    """The value of an integer expression with + - * / and parentheses, `/` being true division."""
    ops: dict[type, Callable[[Fraction, Fraction], Fraction]] = {
        ast.Add: operator.add,
        ast.Sub: operator.sub,
        ast.Mult: operator.mul,
        ast.Div: operator.truediv,
    }

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return Fraction(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](walk(node.left), walk(node.right))
        raise ValueError(f"unexpected {ast.dump(node)} in {expression!r}")

    return walk(ast.parse(expression, mode="eval").body)


def is_sound(family: str, entry: dict[str, Any]) -> bool:
    """False for an item whose stated answer a careful solver would not give."""
    if family != "basic_arithmetic":
        return True
    try:
        return exact_value(entry["metadata"]["expression"]) == int(entry["answer"])
    except ZeroDivisionError:
        return False


def prompt(entry: dict[str, Any]) -> str:
    return f"{entry['question'].rstrip()}\n\n{FORMAT_INSTRUCTION}"


def draw(family: str, seed: int, count: int, seen: set[str]) -> Iterator[dict[str, Any]]:
    """`count` sound items of `family` whose prompts are not in `seen` (which grows with them)."""
    dataset = reasoning_gym.create_dataset(family, seed=seed, size=count * MAX_DRAWS)
    found = 0
    for index in range(len(dataset)):
        entry = dataset[index]
        text = prompt(entry)
        if text in seen or not is_sound(family, entry):
            continue
        seen.add(text)
        yield entry
        found += 1
        if found == count:
            return
    raise RuntimeError(f"{family}: only {found} of {count} new items in the first {len(dataset)} of seed {seed}")


def row(entry: dict[str, Any], row_id: int, script: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"input": [{"role": "user", "content": prompt(entry)}], "tools": []}
    if script is not None:
        params["metadata"] = {"gymbox_script": json.dumps(script, separators=(",", ":"))}
    # Through JSON once, so the metadata's tuples are lists as they will be read back.
    task = json.loads(
        json.dumps({"question": entry["question"], "answer": entry["answer"], "metadata": entry["metadata"]})
    )
    return {"responses_create_params": params, "id": row_id, **task}


def round_robin(per_family: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    count = min(len(items) for items in per_family.values())
    return [per_family[family][i] for i in range(count) for family in FAMILIES]


# ------------------------------------------------------------------ the example rows


def example_script(family: str, answer: str) -> list[dict[str, Any]]:
    """What the scripted model answers on the example row of `family`: see the README's table."""
    if family == "basic_arithmetic":
        return [
            {
                "think": "Multiplication and division first, then left to right.",
                "say": f"Evaluating the expression gives {answer}.\n<answer>{answer}</answer>",
            }
        ]
    if family == "leg_counting":  # no tags: the whole message is the answer
        return [{"say": answer}]
    if family == "spell_backward":  # upper case: the family's scorer ignores case
        return [{"say": f"<answer>{answer.upper()}</answer>"}]
    if family == "word_sorting":
        return [{"say": f"Sorted by code point:\n<answer>{answer}</answer>"}]
    if family == "letter_counting":  # one too many: wrong
        return [{"think": "Count the letter in each word.", "say": f"<answer>{int(answer) + 1}</answer>"}]
    raise ValueError(f"no example script for {family}")


EXAMPLE_FAMILIES = ("basic_arithmetic", "leg_counting", "spell_backward", "word_sorting", "letter_counting")


# ------------------------------------------------------------------ files


def build(seen: set[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every file's rows, by file stem."""
    seen = set() if seen is None else seen
    files: dict[str, list[dict[str, Any]]] = {}
    for split, count in SPLITS.items():
        entries = round_robin({family: list(draw(family, SEEDS[split], count, seen)) for family in FAMILIES})
        files[split] = [row(entry, i) for i, entry in enumerate(entries)]
    examples = [next(draw(family, SEEDS["example"], 1, seen)) for family in EXAMPLE_FAMILIES]
    files["example"] = [
        row(entry, i, example_script(entry["metadata"]["source_dataset"], entry["answer"]))
        for i, entry in enumerate(examples)
    ]
    return files


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def write(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, rows in build().items():
        path = out / f"{stem}.jsonl"
        path.write_bytes(jsonl(rows).encode("utf-8"))
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="folder to write example/train/validation.jsonl into (default: this script's)",
    )
    for path in write(parser.parse_args().out):
        print(f"wrote {path} ({sum(1 for _ in path.open(encoding='utf-8'))} rows)")  # noqa: T201


if __name__ == "__main__":
    main()
