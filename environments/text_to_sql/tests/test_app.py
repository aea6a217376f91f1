"""text_to_sql, run for real: the example rows as whole rollouts, the grader, the read-only executor, the data.

A module fixture serves the environment's configs with gymbox's scripted model (`environment_fixtures`): the
resources server, simple_agent and the model, as uvicorn servers on 127.0.0.1. Rollouts go through the
agent's `POST /run`; tool checks talk to the resources server. Plain sync tests: they run the same on the host
and inside the environment's image (`gymbox test-env text_to_sql`).
"""

from __future__ import annotations

import asyncio
import filecmp
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import httpx
import pytest

from gymbox.collector.rows import validate_row_text
from gymbox.registry import load_environment
from gymbox.testing import EnvironmentStack, environment_fixtures, read_rows, tool_calls, with_script

if TYPE_CHECKING:
    from ..app import TextToSqlServer

ENV_DIR = Path(__file__).resolve().parents[1]
DATA = ENV_DIR / "data"
SERVER = cast("type[TextToSqlServer]", load_environment(ENV_DIR.name, ENV_DIR))
APP = sys.modules[SERVER.__module__]
ROWS = read_rows(DATA / "example.jsonl")
TRAIN = read_rows(DATA / "train.jsonl")
VALIDATION = read_rows(DATA / "validation.jsonl")
EXAMPLE_REWARDS = {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0, 4: 0.0}  # row 4 hard-codes a value: wrong on the holdout
GENERATED = ("shop.sql", "shop_holdout.sql", "example.jsonl", "train.jsonl", "validation.jsonl")
Rollout = Callable[[dict[str, Any]], dict[str, Any]]

env, rollout, episode = environment_fixtures(ENV_DIR)


def row_of(family: str) -> dict[str, Any]:
    return next(row for row in ROWS if row["family"] == family)


def answering(row: dict[str, Any], text: str) -> dict[str, Any]:
    """`row` with a model that answers `text` at once."""
    return with_script(row, {"say": text})


def flags(result: dict[str, Any]) -> dict[str, bool]:
    """The verifier's 0.0 / 1.0 flags, as booleans."""
    return {key: bool(result[key]) for key in ("sql_found", "executed", "timed_out", "refused")}


def fenced(sql: str) -> str:
    return f"```sql\n{sql}\n```"


# ------------------------------------------------------------------ the data


def test_datasets_have_their_sizes_and_valid_rows() -> None:
    assert len(ROWS) == 5
    assert len(TRAIN) >= 200
    assert len(VALIDATION) >= 50
    tools = SERVER.tool_definitions()
    for path in ("example.jsonl", "train.jsonl", "validation.jsonl"):
        for line in (DATA / path).read_text().splitlines():
            row = validate_row_text(line)
            assert isinstance(row, dict), (path, row)
            assert row["responses_create_params"]["tools"] == tools
            assert isinstance(row["order_matters"], bool)
            assert row["question"] in row["responses_create_params"]["input"][0]["content"]
            assert ("metadata" in row["responses_create_params"]) == (path == "example.jsonl")


def test_train_validation_and_example_prompts_do_not_overlap() -> None:
    prompts = [
        {row["responses_create_params"]["input"][0]["content"] for row in rows} for rows in (ROWS, TRAIN, VALIDATION)
    ]
    assert sum(map(len, prompts)) == len(ROWS) + len(TRAIN) + len(VALIDATION)  # no duplicate within a file
    examples, train, validation = prompts
    assert not examples & train
    assert not examples & validation
    assert not train & validation


def test_every_reference_query_has_a_non_empty_answer_on_both_databases() -> None:
    server = SERVER()
    try:
        for row in ROWS + TRAIN + VALIDATION:
            for database in server.databases.values():
                rows = database.run(row["reference_sql"]).rows
                assert rows, row["question"]
                assert all(value is not None for result in rows for value in result), row["question"]
    finally:
        asyncio.run(server.shutdown())


def test_the_generator_reproduces_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(DATA / "generate.py"), "--out", str(tmp_path)], check=True, timeout=60)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(GENERATED)
    for name in GENERATED:
        assert filecmp.cmp(tmp_path / name, DATA / name, shallow=False), f"data/{name} differs from generate.py's"


# ------------------------------------------------------------------ the example rows


@pytest.mark.parametrize("row", ROWS, ids=[str(row["id"]) for row in ROWS])
def test_each_example_row_earns_its_reward(rollout: Rollout, row: dict[str, Any]) -> None:
    result = rollout(row)
    assert result["reward"] == EXAMPLE_REWARDS[row["id"]], result["extracted_sql"]
    assert flags(result) == {"sql_found": True, "executed": True, "timed_out": False, "refused": False}
    assert result["correct_main"]  # all five are right on the database the model sees ...
    assert result["correct_holdout"] == (row["id"] != 4)  # ... and row 4's hard-coded number is wrong elsewhere
    assert result["reference_sql"] == row["reference_sql"]  # task fields travel through verify


def test_the_example_rows_use_the_query_tool_as_scripted(rollout: Rollout) -> None:
    calls = tool_calls(rollout(ROWS[1]))
    assert [name for name, _, _ in calls] == ["run_query"]
    assert sorted(value for [value] in calls[0][2]["rows"]) == ["cancelled", "delivered", "pending", "shipped"]
    failed = tool_calls(rollout(ROWS[3]))[0][2]
    assert failed["error"].startswith("query failed: no such table: product")


# ------------------------------------------------------------------ verify


@pytest.mark.parametrize(
    "text",
    [
        "{fenced}",
        "Here it is:\n{fenced}\nThis counts them.",
        "```\n{sql}\n```",  # a bare fence
        "{sql}",  # no fence, but a bare SELECT
        "```SQL\n{sql};\n```",
        "A first try:\n```sql\nSELECT 0\n```\nBetter:\n{fenced}",  # the last block counts
    ],
)
def test_the_reference_query_earns_1_however_it_is_wrapped(rollout: Rollout, text: str) -> None:
    row = ROWS[0]
    result = rollout(answering(row, text.format(fenced=fenced(row["reference_sql"]), sql=row["reference_sql"])))
    assert result["reward"] == 1.0, result
    assert result["extracted_sql"] == row["reference_sql"]


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT COUNT(*) FROM customers WHERE city = 'Paris'", "the wrong city"),
        ("SELECT COUNT(*) FROM customers", "no filter"),
        ("SELECT COUNT(*), 'Lyon' FROM customers WHERE city = 'Lyon'", "an extra column"),
        ("SELECT name FROM customers WHERE city = 'Lyon'", "the rows instead of their count"),
        ("SELECT 'x' || COUNT(*) FROM customers WHERE city = 'Lyon'", "text, not a number"),
        ("SELECT COUNT(*) FROM customers WHERE city = 'Lyon' AND 1 = 0", "an empty count"),
    ],
)
def test_a_wrong_query_earns_0(rollout: Rollout, sql: str, why: str) -> None:
    result = rollout(answering(ROWS[0], fenced(sql)))
    assert result["reward"] == 0.0, why
    assert result["executed"]
    assert not result["correct_main"]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("", False),
        ("There are 7 customers in Lyon.", False),
        ("```sql\n\n```", False),
        ("```sql\nSELEC COUNT(*) FROM customers\n```", True),  # unparseable
        ("```sql\nSELECT COUNT(*) FROM clients\n```", True),  # no such table
        ("```sql\nSELECT 1; SELECT 2\n```", True),  # two statements
    ],
)
def test_a_malformed_answer_earns_0_and_does_not_count_as_executed(rollout: Rollout, text: str, found: bool) -> None:
    result = rollout(answering(ROWS[0], text))
    assert result["reward"] == 0.0
    assert flags(result) == {"sql_found": found, "executed": False, "timed_out": False, "refused": False}
    assert result["error"]


def test_an_episode_with_no_final_message_earns_0(env: EnvironmentStack) -> None:
    # The model only calls tools until max_steps: the episode is a model error, verified all the same.
    looping = with_script(ROWS[0], *[{"calls": [{"name": "run_query", "arguments": {"sql": "SELECT 1"}}]}] * 9)
    result = env.run(looping, status="model_error")
    assert result["reward"] == 0.0
    assert not result["sql_found"]


# ------------------------------------------------------------------ ordering


def test_row_order_counts_only_when_the_row_says_so(rollout: Rollout) -> None:
    ordered = row_of("top_customers_by_spend")
    assert ordered["order_matters"]
    reference = ordered["reference_sql"]
    reversed_order = f"SELECT * FROM ({reference}) ORDER BY 2 ASC"
    assert rollout(answering(ordered, fenced(reversed_order)))["reward"] == 0.0
    assert rollout(answering({**ordered, "order_matters": False}, fenced(reversed_order)))["reward"] == 1.0

    unordered = row_of("products_never_ordered_in_category")
    assert not unordered["order_matters"]
    for direction in ("ASC", "DESC"):
        answer = fenced(f"SELECT * FROM ({unordered['reference_sql']}) ORDER BY 1 {direction}")
        assert rollout(answering(unordered, answer))["reward"] == 1.0


def test_column_names_and_order_do_not_count(rollout: Rollout) -> None:
    row = row_of("top_customers_by_spend")
    swapped = f"SELECT total_spent, who FROM (SELECT name AS who, total AS total_spent FROM ({row['reference_sql']}))"
    assert rollout(answering(row, fenced(swapped)))["reward"] == 1.0


@pytest.mark.parametrize(
    ("text", "sql"),
    [
        ("```sql\nSELECT 1\n```", "SELECT 1"),
        ("```sqlite\nSELECT 1;\n```", "SELECT 1"),
        ("```postgresql\nSELECT 1\n```", "SELECT 1"),  # any language tag alone on the first line
        ("```sql SELECT 1```", "SELECT 1"),
        ("```SELECT\n  a\nFROM t```", "SELECT\n  a\nFROM t"),  # SQL's first word is not a tag
        ("one ```sql\nSELECT 0\n``` two ```sql\nSELECT 2\n``` three", "SELECT 2"),  # the last block
        ("Truncated: ```sql\nSELECT 3", "SELECT 3"),  # a block left open
        ("with x as (select 1) select * from x;", "with x as (select 1) select * from x"),
        ("The answer is 5.", None),
        ("```sql\n\n```", None),
        ("", None),
    ],
)
def test_extract_sql(text: str, sql: str | None) -> None:
    assert APP.extract_sql(text) == sql


def test_results_match() -> None:
    match = APP.results_match
    assert match([(3,)], [(3.0,)], False)
    assert match([(1.0 / 3,)], [(0.33,)], False)  # 2 decimal places
    assert not match([(0.33,)], [(0.34,)], False)
    assert match([("a", 1), ("b", 2)], [("b", 2), ("a", 1)], False)
    assert not match([("a", 1), ("b", 2)], [("b", 2), ("a", 1)], True)
    assert match([("a", 1)], [(1, "a")], True)  # a permutation of the columns
    assert not match([("a", 1), ("a", 1)], [("a", 1)], False)  # multisets: duplicates count
    assert not match([("a", 1), ("a", 1), ("b", 2)], [("a", 1), ("b", 2), ("b", 2)], False)
    assert not match([("1",)], [(1,)], False)  # text is not a number
    assert match([(None, "x")], [(None, "x")], False)
    assert match([], [], True)
    assert not match([(1,)], [(1, 1)], False)


# ------------------------------------------------------------------ the read-only executor


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO customers VALUES (999, 'Eve Hacker', 'Lyon', 'France', '2024-01-01')",
        "UPDATE customers SET city = 'Lyon'",
        "DELETE FROM customers",
        "DROP TABLE customers",
        "CREATE TABLE notes (x)",
        "ATTACH DATABASE ':memory:' AS scratch",
        "PRAGMA query_only = OFF",
        "SELECT * FROM pragma_table_info('customers')",
        "BEGIN",
        "VACUUM INTO '/tmp/text_to_sql_copy.db'",
        "WITH gone AS (SELECT 1) DELETE FROM orders",
    ],
)
def test_a_write_or_escape_attempt_is_refused_and_earns_0(rollout: Rollout, episode: httpx.Client, sql: str) -> None:
    result = rollout(answering(ROWS[0], fenced(sql)))
    assert result["reward"] == 0.0
    assert flags(result) == {"sql_found": True, "executed": False, "timed_out": False, "refused": True}
    assert result["error"].startswith("query refused")
    answer = episode.post("/run_query", json={"sql": sql})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("query refused: only reading is allowed")
    # Nothing changed: the data are as before and the reference still earns 1.
    count = episode.post("/run_query", json={"sql": "SELECT COUNT(*) FROM customers"}).json()["rows"]
    assert count == [[60]]
    assert rollout(answering(ROWS[0], fenced(ROWS[0]["reference_sql"])))["reward"] == 1.0
    assert not Path("/tmp/text_to_sql_copy.db").exists()


def test_an_endless_recursive_query_is_stopped_by_the_timeout(rollout: Rollout) -> None:
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT COUNT(*) FROM n"
    started = time.monotonic()
    result = rollout(answering(ROWS[0], fenced(endless)))
    assert time.monotonic() - started < 10  # 2 s on the first database; the second is not tried
    assert result["reward"] == 0.0
    assert flags(result) == {"sql_found": True, "executed": False, "timed_out": True, "refused": False}
    assert "timed out after 2000 ms" in result["error"]


def test_the_executor_limits_time_rows_and_size() -> None:
    server = SERVER(APP.TextToSqlConfig(query_timeout_ms=200, max_rows=50))
    database = server.databases["main"]
    try:
        started = time.monotonic()
        with pytest.raises(APP.QueryError) as timeout:
            database.run("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n ORDER BY x")
        assert timeout.value.kind == "timeout"
        assert time.monotonic() - started < 2
        with pytest.raises(APP.QueryError) as rows:
            database.run("SELECT * FROM order_items")
        assert rows.value.kind == "too_many_rows"
        assert len(database.run("SELECT * FROM order_items", truncate=True).rows) == 50
        with pytest.raises(APP.QueryError) as big:
            database.run("SELECT zeroblob(5000000)")
        assert big.value.kind == "error"
    finally:
        asyncio.run(server.shutdown())


def test_an_answer_with_too_many_rows_earns_0(rollout: Rollout) -> None:
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n"
    result = rollout(answering(ROWS[0], fenced(endless)))
    assert result["reward"] == 0.0
    assert flags(result) == {"sql_found": True, "executed": False, "timed_out": False, "refused": False}
    assert result["error"] == "query returned more than 1000 rows"


# ------------------------------------------------------------------ the run_query tool


def test_run_query_shows_the_first_rows(episode: httpx.Client) -> None:
    answer = episode.post("/run_query", json={"sql": "SELECT name, category FROM products ORDER BY name LIMIT 3"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["columns"] == ["name", "category"]
    assert (body["row_count"], body["truncated"]) == (3, False)
    assert all(isinstance(name, str) and category in APP_CATEGORIES for name, category in body["rows"])
    many = episode.post("/run_query", json={"sql": "SELECT * FROM orders"}).json()
    assert (many["row_count"], many["truncated"]) == (20, True)


APP_CATEGORIES = {"Books", "Electronics", "Garden", "Kitchen", "Toys"}


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        ({}, 422, "sql: Field required"),
        ({"sql": ""}, 422, "sql: String should have at least 1 character"),
        ({"sql": ["SELECT 1"]}, 422, "sql: Input should be a valid string"),
        ({"sql": "SELECT x FROM nowhere"}, 400, "query failed: no such table: nowhere"),
        ({"sql": "SELECT 1; SELECT 2"}, 400, "query failed: You can only execute one statement at a time."),
    ],
)
def test_run_query_rejects_bad_arguments(
    episode: httpx.Client, arguments: dict[str, Any], status: int, message: str
) -> None:
    answer = episode.post("/run_query", json=arguments)
    assert answer.status_code == status
    assert message in answer.json()["error"]


# ------------------------------------------------------------------ bad rows


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reference_sql": None}, "reference_sql"),
        ({"reference_sql": "SELECT * FROM nowhere"}, "reference_sql does not run on the main database"),
        ({"reference_sql": "DELETE FROM customers"}, "query refused"),
        ({"order_matters": "sometimes"}, "order_matters"),
    ],
)
def test_a_bad_row_is_refused_before_the_episode_starts(
    env: EnvironmentStack, change: dict[str, Any], message: str
) -> None:
    row = {key: value for key, value in {**ROWS[0], **change}.items() if value is not None}
    answer = env.client.post(f"{env.agent}/run", json=row)
    assert answer.status_code == 400
    assert answer.json()["detail"] == {"kind": "invalid_row"}
    assert message in answer.json()["error"]
