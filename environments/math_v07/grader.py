"""The math grader: math-verify, run as a worker process that the server talks to over pipes.

    $ python grader.py
    {"ready": true, "math_verify_version": "0.9.0"}           <- written once math-verify is imported
    {"gold": "3/4", "answer": "so \\boxed{0.75}"}             -> one request per line on stdin
    {"correct": true, "answer_parsed": true, "boxed": true, "extracted_answer": "0.75", "error": null}

Why a process of its own: math-verify bounds parsing and comparison with SIGALRM, which works only in a
process's main thread (the server's handlers run elsewhere), and sympy can spin on hostile input beyond any
alarm (`9^{9^{9}}`); the server kills a worker that takes too long and starts another. The worker exits when
its stdin closes, so it never outlives the server. Only the standard library is imported at the top:
`grade` is also imported by the tests, where math-verify may be missing.
"""

from __future__ import annotations

import json
import re
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

PACKAGE = "math-verify"
EXTRACTED_CHARS = 200  # `extracted_answer` is for reading logs, not a transcript
BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


def math_verify_version() -> str | None:
    """The installed math-verify release, or None when it is not installed."""
    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return None


def grade(gold: str, answer: str) -> dict[str, Any]:
    """Is `answer` (a model's final message) mathematically equal to `gold` (the row's expected answer)?

    Extraction prefers the last `\\boxed{}`, then "the answer is ..."-style anchors, then the last LaTeX or
    plain number in the text; comparison is symbolic and numeric (`3/4`, `\\frac{3}{4}`, `0.75` are equal).
    """
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    targets = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
    gold_parsed = parse(f"${gold}$", targets)
    parsed = parse(answer, targets) if answer.strip() else []
    # `parse` gives [sympy value, the text it came from], or just the text when sympy could not read it.
    understood = any(not isinstance(item, str) for item in parsed)
    correct = bool(gold_parsed and understood and verify(gold_parsed, parsed))
    extracted = str(parsed[-1]) if parsed else None
    return {
        "correct": correct,
        "answer_parsed": understood,
        "boxed": BOXED.search(answer) is not None,
        "extracted_answer": extracted[:EXTRACTED_CHARS] if extracted is not None else None,
        "error": None if gold_parsed else f"the expected answer {gold!r} does not parse",
    }


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    installed = math_verify_version()
    try:
        import math_verify  # noqa: F401  (the slow import, done before saying ready)
    except ImportError as exc:
        _emit({"ready": False, "error": f"cannot import math_verify ({exc}): install requirements.txt"})
        return 1
    _emit({"ready": True, "math_verify_version": installed})
    for line in sys.stdin:
        try:
            request = json.loads(line)
            result = grade(str(request["gold"]), str(request["answer"]))
        except Exception as exc:  # a bad request or a math-verify bug: say so, keep serving
            result = {
                "correct": False,
                "answer_parsed": False,
                "boxed": False,
                "extracted_answer": None,
                "error": f"{type(exc).__name__}: {exc}",
            }
        _emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
