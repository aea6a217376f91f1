"""calendar_multi_turn, run for real: the example rows as whole rollouts, the tools, sessions, every constraint.

A module fixture serves the environment's configs with gymbox's scripted model (`environment_fixtures`): the
resources server, simple_agent and the model, as uvicorn servers on 127.0.0.1. Rollouts go through the
agent's `POST /run`; tool checks talk to the resources server with a client that keeps its session cookie.
Plain sync tests: they run the same on the host and inside the image (`gymbox test-env calendar_multi_turn`).
"""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from gymbox.collector.rows import validate_row_text
from gymbox.registry import load_environment
from gymbox.testing import EnvironmentStack, environment_fixtures, read_rows, tool_calls, with_script

ENV_DIR = Path(__file__).resolve().parents[1]
DATA = ENV_DIR / "data"
SERVER = load_environment(ENV_DIR.name, ENV_DIR)
APP = sys.modules[SERVER.__module__]
ROWS = read_rows(DATA / "example.jsonl")
TRAIN = read_rows(DATA / "train.jsonl")
VALIDATION = read_rows(DATA / "validation.jsonl")
EXAMPLE_REWARDS = {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0, 4: 0.0}  # row 4 renames every event: all constraints fail
GENERATED = ("example.jsonl", "train.jsonl", "validation.jsonl")
Rollout = Callable[[dict[str, Any]], dict[str, Any]]

env, rollout, episode = environment_fixtures(ENV_DIR)


def add(title: str, day: str, start: str, end: str) -> dict[str, Any]:
    return {"name": "add_event", "arguments": {"title": title, "day": day, "start": start, "end": end}}


def events(*specs: str) -> list[Any]:
    """`events("Gym Monday 09:00 10:00", ...)`: Event objects (titles are one word here)."""
    out = []
    for spec in specs:
        title, day, start, end = spec.split()
        out.append(APP.Event(title=title, day=day, start=start, end=end))
    return out


def constraint(**fields: Any) -> Any:
    return APP.CalendarTask.model_validate(
        {"responses_create_params": {"input": "x"}, "constraints": [fields]}
    ).constraints[0]


def seeded(client: httpx.Client, row: dict[str, Any]) -> httpx.Client:
    answer = client.post("/seed_session", json=row)
    assert answer.status_code == 200, answer.text
    return client


EMPTY_ROW = {**ROWS[4], "initial_events": []}  # no events to start with


# ------------------------------------------------------------------ the data


def test_datasets_have_their_sizes_and_valid_rows() -> None:
    assert len(ROWS) == 5
    assert len(TRAIN) >= 200
    assert len(VALIDATION) >= 50
    tools = SERVER.tool_definitions()
    for path in GENERATED:
        for line in (DATA / path).read_text().splitlines():
            row = validate_row_text(line)
            assert isinstance(row, dict), (path, row)
            APP.CalendarTask.model_validate(row)
            params = row["responses_create_params"]
            assert params["tools"] == tools
            assert ("metadata" in params) == (path == "example.jsonl")
            roles = [message["role"] for message in params["input"]]
            assert roles[0] == "system"
            assert roles[1:] == ["user", "assistant"] * (len(roles[1:]) // 2) + ["user"]  # alternating, user last
            assert roles.count("user") >= 2


def test_train_validation_and_example_conversations_do_not_overlap() -> None:
    conversations = [
        {json.dumps(row["responses_create_params"]["input"]) for row in rows} for rows in (ROWS, TRAIN, VALIDATION)
    ]
    assert sum(map(len, conversations)) == len(ROWS) + len(TRAIN) + len(VALIDATION)
    examples, train, validation = conversations
    assert not examples & train
    assert not examples & validation
    assert not train & validation


@pytest.mark.parametrize("rows", [ROWS, TRAIN, VALIDATION], ids=["example", "train", "validation"])
def test_every_row_has_a_solution_the_tools_can_build(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        task = APP.CalendarTask.model_validate(row)
        reference = [APP.Event.model_validate(event) for event in row["reference_calendar"]]
        # Remove the initial events that are not in the solution as they are, then add the rest: no refusals.
        calendar = [event for event in task.initial_events if event in reference]
        for event in reference:
            if event not in calendar:
                assert APP.conflict(calendar, event) is None, (row["id"], event)
                calendar.append(event)
        assert all(c.check(calendar) for c in task.constraints), (row["id"], calendar)
        # Doing nothing is never enough.
        assert not all(c.check(task.initial_events) for c in task.constraints), row["id"]


def test_the_generator_reproduces_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(DATA / "generate.py"), "--out", str(tmp_path)], check=True, timeout=60)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(GENERATED)
    for name in GENERATED:
        assert filecmp.cmp(tmp_path / name, DATA / name, shallow=False), f"data/{name} differs from generate.py's"


# ------------------------------------------------------------------ the example rows


@pytest.mark.parametrize("row", ROWS, ids=[str(row["id"]) for row in ROWS])
def test_each_example_row_earns_its_reward_over_many_tool_steps(rollout: Rollout, row: dict[str, Any]) -> None:
    result = rollout(row)
    calls = tool_calls(result)
    assert len(calls) >= 4
    assert calls[0][0] == "list_events"
    assert calls[0][2]["events"] == row["initial_events"]  # the episode starts from the row's calendar
    assert result["reward"] == EXAMPLE_REWARDS[row["id"]], result["violations"]
    assert result["all_satisfied"] == float(result["reward"] == 1.0)
    assert result["satisfied"] == round(result["reward"] * len(row["constraints"]))
    if result["reward"] == 1.0:
        assert result["calendar"] == row["reference_calendar"]


def test_example_row_1_is_refused_an_overlap_and_tries_again(rollout: Rollout) -> None:
    calls = tool_calls(rollout(ROWS[1]))
    refused = [(args, out) for name, args, out in calls if name == "add_event" and "error" in out]
    assert len(refused) == 1
    args, out = refused[0]
    assert "overlaps" in out["error"]
    assert any(name == "add_event" and a["title"] == args["title"] and "added" in o for name, a, o in calls)


def test_example_row_4_violates_every_constraint(rollout: Rollout) -> None:
    result = rollout(ROWS[4])
    assert result["satisfied"] == 0
    assert len(result["violations"]) == result["n_constraints"] == len(ROWS[4]["constraints"])
    assert result["constraints"] == ROWS[4]["constraints"]  # the task fields come back untouched
    assert all(event["title"].startswith("Appt: ") for event in result["calendar"])


# ------------------------------------------------------------------ verify


def test_partial_work_earns_the_fraction_of_constraints_it_satisfies(rollout: Rollout) -> None:
    row = ROWS[2]
    vendor = next(e for e in row["reference_calendar"] if e["title"] == "Vendor call")
    result = rollout(with_script(row, {"calls": [{"name": "add_event", "arguments": vendor}]}, {"say": "Done."}))
    # Vendor call is at its exact time; Prep slides and Long run are missing; the calendar is not complete.
    assert result["satisfied"] == 1
    assert result["reward"] == pytest.approx(1 / len(row["constraints"]))
    assert result["all_satisfied"] == 0.0
    assert "'Prep slides' lasts 60 minutes" in result["violations"]


@pytest.mark.parametrize("final", ["", "I could not do it.", '{"not": "a summary"}'])
def test_the_final_message_does_not_count_only_the_calendar_does(rollout: Rollout, final: str) -> None:
    row = ROWS[2]
    calls = [{"name": "add_event", "arguments": event} for event in row["reference_calendar"]]
    result = rollout(with_script(row, {"calls": calls}, {"say": final}))
    assert result["reward"] == 1.0
    assert rollout(with_script(row, {"say": final}))["reward"] == 0.0  # nothing added: every constraint fails


def test_the_agent_hands_malformed_tool_calls_back_and_the_episode_goes_on(rollout: Rollout) -> None:
    row = ROWS[2]
    calls = [{"name": "add_event", "arguments": event} for event in row["reference_calendar"]]
    result = rollout(
        with_script(
            row,
            {"calls": [{"name": "add_event", "arguments": '{"title": "Vendor'}]},
            {"calls": [{"name": "add_event", "arguments": {"title": "Vendor call"}}]},
            {"calls": [{"name": "book_room", "arguments": {}}]},
            {"calls": calls},
            {"say": "Done."},
        )
    )
    outputs = [
        json.loads(item["output"]) for item in result["response"]["output"] if item["type"] == "function_call_output"
    ]
    errors = [output["error"] for output in outputs if "error" in output]
    assert "arguments of add_event are not valid JSON" in errors[0]
    assert "day: Field required" in errors[1]
    assert "unknown tool 'book_room'" in errors[2]
    assert result["reward"] == 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"constraints": []}, "constraints: List should have at least 1 item"),
        ({"constraints": [{"kind": "sometime", "title": "Gym"}]}, "does not match any of the expected tags"),
        ({"constraints": [{"kind": "duration", "title": "Gym", "minutes": "an hour"}]}, "minutes"),
        ({"constraints": [{"kind": "on_day", "title": "Gym", "day": "Someday"}]}, "day"),
        (
            {
                "initial_events": [
                    {"title": "A", "day": "Monday", "start": "09:00", "end": "10:00"},
                    {"title": "B", "day": "Monday", "start": "09:30", "end": "10:30"},
                ]
            },
            "overlaps",
        ),
        ({"initial_events": [{"title": "A", "day": "Monday", "start": "10:00", "end": "09:00"}]}, "must be after"),
    ],
)
def test_a_bad_row_is_refused_before_the_episode_starts(
    env: EnvironmentStack, change: dict[str, Any], message: str
) -> None:
    answer = env.client.post(f"{env.agent}/run", json={**ROWS[0], **change})
    assert answer.status_code == 400
    assert answer.json()["detail"] == {"kind": "invalid_row"}
    assert message in answer.json()["error"]


# ------------------------------------------------------------------ sessions


def test_concurrent_episodes_never_see_each_others_calendars(rollout: Rollout) -> None:
    days = APP.DAYS

    def script(i: int) -> dict[str, Any]:
        mine = add(f"Event {i}", days[i % 7], f"{8 + i % 10:02d}:00", f"{9 + i % 10:02d}:00")
        return with_script(
            EMPTY_ROW,
            {"calls": [mine]},
            {"calls": [{"name": "list_events", "arguments": {}}]},
            {"calls": [{"name": "remove_event", "arguments": {"title": "Event 0"}}]},
            {"say": "Done."},
        )

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(lambda i: rollout(script(i)), range(32)))
    for i, result in enumerate(results):
        calls = tool_calls(result)
        listed = [event["title"] for event in calls[1][2]["events"]]
        assert listed == [f"Event {i}"], (i, listed)
        assert ("removed" in calls[2][2]) == (i == 0)  # only episode 0 has an 'Event 0' to remove
        assert [event["title"] for event in result["calendar"]] == ([] if i == 0 else [f"Event {i}"])


def test_sessions_opened_directly_are_separate(env: EnvironmentStack) -> None:
    transport = httpx.HTTPTransport()  # one connection pool; each client keeps its own session cookie
    clients = [httpx.Client(base_url=env.resources, timeout=30, transport=transport) for _ in range(30)]
    try:

        def work(i: int) -> list[str]:
            client = seeded(clients[i], EMPTY_ROW)
            for j in range(3):
                answer = client.post(
                    "/add_event",
                    json={"title": f"E{i}-{j}", "day": "Monday", "start": f"{8 + j:02d}:00", "end": f"{8 + j:02d}:30"},
                )
                assert answer.status_code == 200, answer.text
            return [event["title"] for event in client.post("/list_events", json={}).json()["events"]]

        with ThreadPoolExecutor(max_workers=30) as pool:
            listed = list(pool.map(work, range(30)))
        assert listed == [[f"E{i}-{j}" for j in range(3)] for i in range(30)]
    finally:
        transport.close()


def test_seed_session_starts_from_the_rows_initial_events(episode: httpx.Client) -> None:
    seeded(episode, ROWS[0])
    listed = episode.post("/list_events", json={}).json()["events"]
    assert sorted(e["title"] for e in listed) == sorted(e["title"] for e in ROWS[0]["initial_events"])


# ------------------------------------------------------------------ the tools


def test_add_event_refuses_overlaps_and_duplicate_titles(episode: httpx.Client) -> None:
    seeded(episode, EMPTY_ROW)
    ok = episode.post("/add_event", json={"title": "Dentist", "day": "Tuesday", "start": "14:00", "end": "15:00"})
    assert ok.status_code == 200
    assert ok.json() == {"added": {"title": "Dentist", "day": "Tuesday", "start": "14:00", "end": "15:00"}, "events": 1}
    for start, end in (("14:30", "15:30"), ("13:30", "14:01"), ("14:15", "14:45"), ("13:00", "16:00")):
        clash = episode.post("/add_event", json={"title": "Gym", "day": "Tuesday", "start": start, "end": end})
        assert clash.status_code == 409
        assert clash.json()["error"] == (
            f"'Gym' (Tuesday {start}-{end}) overlaps 'Dentist' (Tuesday 14:00-15:00); "
            "events may not overlap: pick another time, or remove that event first"
        )
    for day, start, end in (
        ("Tuesday", "15:00", "16:00"),
        ("Tuesday", "13:00", "14:00"),
        ("Wednesday", "14:00", "15:00"),
    ):
        title = f"Back to back {day} {start}"
        assert (
            episode.post("/add_event", json={"title": title, "day": day, "start": start, "end": end}).status_code == 200
        )
    duplicate = episode.post(
        "/add_event", json={"title": "  dentist ", "day": "Friday", "start": "09:00", "end": "10:00"}
    )
    assert duplicate.status_code == 409
    assert "an event titled 'Dentist' already exists" in duplicate.json()["error"]
    assert len(episode.post("/list_events", json={}).json()["events"]) == 4


def test_list_events_is_in_time_order_and_remove_event_removes(episode: httpx.Client) -> None:
    seeded(episode, EMPTY_ROW)
    for title, day, start in (("C", "Friday", "09:00"), ("A", "Monday", "18:00"), ("B", "Monday", "08:00")):
        episode.post("/add_event", json={"title": title, "day": day, "start": start, "end": f"{start[:2]}:30"})
    assert [e["title"] for e in episode.post("/list_events", json={}).json()["events"]] == ["B", "A", "C"]
    assert [e["title"] for e in episode.post("/list_events").json()["events"]] == ["B", "A", "C"]  # no body
    removed = episode.post("/remove_event", json={"title": "a"})
    assert removed.status_code == 200
    assert removed.json() == {"removed": {"title": "A", "day": "Monday", "start": "18:00", "end": "18:30"}, "events": 2}
    missing = episode.post("/remove_event", json={"title": "A"})
    assert missing.status_code == 404
    assert missing.json()["error"] == "no event titled 'A'; the calendar holds 'B', 'C'"


def test_add_event_normalises_days_and_times(episode: httpx.Client) -> None:
    seeded(episode, EMPTY_ROW)
    answer = episode.post("/add_event", json={"title": "Run", "day": "thu", "start": "7:05", "end": " 08:00 "})
    assert answer.status_code == 200
    assert answer.json()["added"] == {"title": "Run", "day": "Thursday", "start": "07:05", "end": "08:00"}


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        ({}, 422, "title: Field required"),
        ({"title": "Gym", "day": "Monday", "start": "09:00"}, 422, "end: Field required"),
        ({"title": "", "day": "Monday", "start": "09:00", "end": "10:00"}, 422, "title: String should have at least"),
        ({"title": 7, "day": "Monday", "start": "09:00", "end": "10:00"}, 422, "title: Input should be a valid string"),
        ({"title": "Gym", "day": "Funday", "start": "09:00", "end": "10:00"}, 422, "day: Input should be 'Monday'"),
        ({"title": "Gym", "day": "Monday", "start": "25:00", "end": "26:00"}, 422, "'25:00' is not a 24-hour time"),
        ({"title": "Gym", "day": "Monday", "start": "9am", "end": "10am"}, 422, "'9am' is not a 24-hour time"),
        ({"title": "Gym", "day": "Monday", "start": 900, "end": 1000}, 422, "start: Input should be a valid string"),
        (
            {"title": "Gym", "day": "Monday", "start": "10:00", "end": "09:00"},
            400,
            "invalid event: end (09:00) must be after start (10:00), on the same day",
        ),
        ({"title": "Gym", "day": "Monday", "start": "10:00", "end": "10:00"}, 400, "must be after start"),
    ],
)
def test_add_event_rejects_bad_arguments(
    episode: httpx.Client, arguments: dict[str, Any], status: int, message: str
) -> None:
    seeded(episode, EMPTY_ROW)
    answer = episode.post("/add_event", json=arguments)
    assert answer.status_code == status
    assert message in answer.json()["error"]
    assert episode.post("/list_events", json={}).json()["events"] == []


@pytest.mark.parametrize("arguments", [{}, {"title": ""}, {"title": ["Gym"]}])
def test_remove_event_rejects_bad_arguments(episode: httpx.Client, arguments: dict[str, Any]) -> None:
    answer = episode.post("/remove_event", json=arguments)
    assert answer.status_code == 422
    assert answer.json()["error"].startswith("invalid arguments for remove_event: title:")


def test_the_calendar_has_a_size_limit(episode: httpx.Client) -> None:
    seeded(episode, EMPTY_ROW)
    for i in range(50):
        day, slot = APP.DAYS[i // 10], i % 10
        answer = episode.post(
            "/add_event",
            json={"title": f"E{i}", "day": day, "start": f"{8 + slot:02d}:00", "end": f"{8 + slot:02d}:30"},
        )
        assert answer.status_code == 200
    full = episode.post("/add_event", json={"title": "One more", "day": "Sunday", "start": "08:00", "end": "09:00"})
    assert full.status_code == 400
    assert full.json()["error"] == "the calendar is full (50 events); remove one first"


# ------------------------------------------------------------------ each constraint


CALENDAR = events(
    "Dentist Tuesday 14:00 15:00", "Gym Tuesday 07:00 08:30", "Prep Monday 16:00 17:00", "Pitch Tuesday 09:00 10:00"
)


@pytest.mark.parametrize(
    ("fields", "holds"),
    [
        ({"kind": "exists", "title": "Dentist"}, True),
        ({"kind": "exists", "title": "  dentist"}, True),  # case and spacing do not count
        ({"kind": "exists", "title": "Haircut"}, False),
        ({"kind": "absent", "title": "Haircut"}, True),
        ({"kind": "absent", "title": "GYM"}, False),
        ({"kind": "exact", "title": "Dentist", "day": "Tuesday", "start": "14:00", "end": "15:00"}, True),
        ({"kind": "exact", "title": "Dentist", "day": "Tuesday", "start": "14:00", "end": "15:30"}, False),
        ({"kind": "exact", "title": "Dentist", "day": "Wednesday", "start": "14:00", "end": "15:00"}, False),
        ({"kind": "exact", "title": "Haircut", "day": "Tuesday", "start": "14:00", "end": "15:00"}, False),
        ({"kind": "on_day", "title": "Gym", "day": "Tuesday"}, True),
        ({"kind": "on_day", "title": "Gym", "day": "Monday"}, False),
        ({"kind": "on_day", "title": "Haircut", "day": "Monday"}, False),
        ({"kind": "duration", "title": "Gym", "minutes": 90}, True),
        ({"kind": "duration", "title": "Gym", "minutes": 60}, False),
        ({"kind": "duration", "title": "Haircut", "minutes": 60}, False),
        ({"kind": "within", "title": "Dentist", "earliest": "14:00", "latest": "15:00"}, True),  # bounds included
        ({"kind": "within", "title": "Dentist", "earliest": "12:00", "latest": "17:00"}, True),
        ({"kind": "within", "title": "Dentist", "earliest": "14:30", "latest": "17:00"}, False),  # starts too early
        ({"kind": "within", "title": "Dentist", "earliest": "12:00", "latest": "14:30"}, False),  # ends too late
        ({"kind": "within", "title": "Haircut", "earliest": "00:00", "latest": "23:59"}, False),
        ({"kind": "before", "first": "Prep", "second": "Pitch"}, True),  # Monday before Tuesday, whatever the hour
        ({"kind": "before", "first": "Gym", "second": "Pitch"}, True),  # same day, earlier
        ({"kind": "before", "first": "Pitch", "second": "Gym"}, False),
        ({"kind": "before", "first": "Pitch", "second": "Prep"}, False),
        ({"kind": "before", "first": "Haircut", "second": "Pitch"}, False),  # a missing event satisfies nothing
        ({"kind": "before", "first": "Pitch", "second": "Haircut"}, False),
        ({"kind": "day_free", "day": "Friday"}, True),
        ({"kind": "day_free", "day": "monday"}, False),
        ({"kind": "exactly", "titles": ["Pitch", "prep", "Gym", "Dentist"]}, True),  # any order, any case
        ({"kind": "exactly", "titles": ["Pitch", "Prep", "Gym"]}, False),  # one too many in the calendar
        ({"kind": "exactly", "titles": ["Pitch", "Prep", "Gym", "Dentist", "Haircut"]}, False),  # one missing
    ],
)
def test_each_constraint_checker(fields: dict[str, Any], holds: bool) -> None:
    checker = constraint(**fields)
    assert checker.check(CALENDAR) is holds
    assert checker.describe()


def test_before_allows_back_to_back_events() -> None:
    back_to_back = events("A Monday 09:00 10:00", "B Monday 10:00 11:00")
    assert constraint(kind="before", first="A", second="B").check(back_to_back)
    assert not constraint(kind="before", first="B", second="A").check(back_to_back)


def test_the_data_uses_every_constraint_kind_but_exists() -> None:
    # 'exists' is implied by the kinds that place an event; it is there for hand-written rows.
    kinds = {c["kind"] for row in TRAIN for c in row["constraints"]}
    assert kinds == {"absent", "exact", "on_day", "duration", "within", "before", "day_free", "exactly"}
