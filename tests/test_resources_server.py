"""The resources server base class, through the toy environment, in-process."""

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gymbox.registry import load_environment
from gymbox.servers.sessions import SessionStore


@pytest.fixture
def toy_app(toy_environments: Path):  # type: ignore[no-untyped-def]
    return load_environment("toy", toy_environments / "toy")().build_app()


def client(app) -> TestClient:  # type: ignore[no-untyped-def]
    """In-process, with the app's lifespan (its `startup` hook) run on entering."""
    return TestClient(app, base_url="http://env")


def test_tools_are_routes_with_validated_bodies(toy_app) -> None:  # type: ignore[no-untyped-def]
    with client(toy_app) as c:
        assert (c.get("/health")).json()["status"] == "ok"
        assert (c.post("/write", json={"text": "a"})).json() == {"lines": 1}
        missing = c.post("/write", json={})
        assert missing.status_code == 422
        assert missing.json()["error"] == "invalid arguments for write: text: Field required"
        wrong = c.post("/write", json={"text": 5})
        assert "text: Input should be a valid string" in wrong.json()["error"]
        not_json = c.post("/write", content=b"{nope", headers={"content-type": "application/json"})
        assert not_json.status_code == 400
        assert "not valid JSON" in not_json.json()["error"]
        assert (c.post("/read")).json() == {"notes": ["a"]}  # no body: a tool without arguments
        refused = c.post("/write", json={"text": "forbidden"})
        assert refused.status_code == 400
        assert refused.json()["error"] == "that word is not allowed"


def test_seed_verify_and_aggregate(toy_app) -> None:  # type: ignore[no-untyped-def]
    row = {"responses_create_params": {"input": "x"}, "start": "first", "target": "second"}
    with client(toy_app) as c:
        assert (c.post("/seed_session", json=row)).status_code == 200
        c.post("/write", json={"text": "second"})
        verified = (c.post("/verify", json={**row, "response": {"output": []}})).json()
        assert verified["reward"] == 1.0
        assert verified["notes_written"] == 2
        assert verified["start"] == "first"
        bad = c.post("/verify", json=row)  # no response
        assert bad.status_code == 422
        assert "response: Field required" in bad.json()["error"]
        metrics = (
            c.post(
                "/aggregate_metrics",
                json={"verify_responses": [{"reward": 1.0, "notes_written": 2}, {"reward": 0.0, "notes_written": 4}]},
            )
        ).json()
    assert metrics == {"count": 2, "mean/notes_written": 3.0, "mean/reward": 0.5}


def test_a_new_seed_starts_a_new_episode(toy_app) -> None:  # type: ignore[no-untyped-def]
    row = {"responses_create_params": {"input": "x"}}
    with client(toy_app) as c:
        c.post("/seed_session", json=row)
        c.post("/write", json={"text": "old"})
        c.post("/seed_session", json=row)
        assert (c.post("/read", json={})).json() == {"notes": []}


def test_tool_definitions_describe_the_tools(toy_environments: Path) -> None:
    server = load_environment("toy", toy_environments / "toy")
    defs = {d["name"]: d for d in server.tool_definitions()}
    assert set(defs) == {"write", "read", "crash", "nap"}
    assert defs["write"]["parameters"]["required"] == ["text"]
    assert defs["write"]["description"] == "Append a line to the episode's notepad."


def test_sessions_expire_after_their_ttl_and_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    store = SessionStore(ttl_s=10, max_sessions=3)
    a = store.new()
    now[0] += 6
    b = store.new()
    now[0] += 6  # a idle 12 s, b idle 6 s
    assert store.get(a.id) is None
    assert store.get(b.id) is b
    for _ in range(5):
        store.new()
    assert len(store) == 3  # the cap evicts the least recently used
    assert store.get(b.id) is None


def test_a_metric_named_like_a_row_field_is_refused(toy_environments: Path) -> None:
    toy = load_environment("toy", toy_environments / "toy")

    class Clashing(toy):  # type: ignore[misc, valid-type]
        async def verify(self, body, session):  # type: ignore[no-untyped-def]
            return {"reward": 1.0, "target": "overwritten"}

    row = {"responses_create_params": {"input": "x"}, "target": "t", "response": {"output": []}}
    with client(Clashing().build_app()) as c, pytest.raises(TypeError, match="target"):
        c.post("/verify", json=row)
