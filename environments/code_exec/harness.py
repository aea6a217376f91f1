"""The program the sandbox runs to test a submission; sent as main.py, with the submission as solution.py.

stdin: line 1 a nonce, line 2 a JSON object {"entry_point", "test_timeout_s", "calls": [[args...], ...]}.
For each call it writes one line `<nonce>{"i": k, "value": <the return value as JSON>}` (or `"error"`) to
the real stdout; what the submission prints goes nowhere. The expected values never enter the sandbox:
the environment compares them, so reading this file or the calls gains the submission nothing. A call
that uses more than `test_timeout_s` of CPU time is interrupted by SIGPROF and counts as failed: CPU time,
not wall time, so a machine busy with other runs does not fail an honest call. A call that blocks instead
(a sleep, a read), or a submission that defeats the timer, meets the sandbox's wall-time limit, which ends
the run; the calls without a line count as failed.
Standard library only: it runs in the sandbox's interpreter.
"""

import contextlib
import io
import json
import os
import signal
import sys

NONCE = sys.stdin.readline().strip()
SPEC = json.loads(sys.stdin.readline())
RESULTS = os.fdopen(os.dup(1), "w", encoding="utf-8")  # before the submission can touch fd 1's Python object
SINK = io.StringIO()
MAX_VALUE_CHARS = 2_000


def report(record: dict[str, object]) -> None:
    RESULTS.write(NONCE + json.dumps(record) + "\n")
    RESULTS.flush()


def as_json(value: object) -> object:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return {"__unserialisable__": repr(value)[:200]}
    return value if len(text) <= MAX_VALUE_CHARS else {"__too_long__": len(text)}


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def on_cpu_budget_spent(signum: int, frame: object) -> None:
    raise TimeoutError(f"call used more than {SPEC['test_timeout_s']} s of CPU time")


def main() -> None:
    sys.setrecursionlimit(10_000)
    sys.path.insert(0, os.getcwd())  # `python -I` leaves the script's folder off the path
    try:
        with contextlib.redirect_stdout(SINK), contextlib.redirect_stderr(SINK):
            import solution  # type: ignore[import-not-found]  # the submission, beside this file
        function = getattr(solution, SPEC["entry_point"])
        if not callable(function):
            raise TypeError(f"{SPEC['entry_point']} is not a function")
    except BaseException as exc:  # SyntaxError, SystemExit, a missing name...: nothing can pass
        report({"load_error": describe(exc)})
        return
    report({"loaded": True})
    signal.signal(signal.SIGPROF, on_cpu_budget_spent)
    for i, args in enumerate(SPEC["calls"]):
        try:
            signal.setitimer(signal.ITIMER_PROF, SPEC["test_timeout_s"])
            with contextlib.redirect_stdout(SINK), contextlib.redirect_stderr(SINK):
                value = function(*args)
            signal.setitimer(signal.ITIMER_PROF, 0)
            report({"i": i, "value": as_json(value)})
        except BaseException as exc:  # a failing call, SystemExit included, fails that test only
            signal.setitimer(signal.ITIMER_PROF, 0)
            report({"i": i, "error": describe(exc)})
        SINK.seek(0)
        SINK.truncate()


main()
