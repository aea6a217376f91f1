"""The resources server base class, through the toy environment, in-process."""

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gymbox import ResourcesServer, ResourcesServerConfig, RunRequest, Session, VerifyRequest
from gymbox.protocol import SESSION_COOKIE
from gymbox.registry import load_environment
from gymbox.servers.sessions import SessionStore

ROW = {"responses_create_params": {"input": "x"}, "start": "first", "target": "second"}
VERIFY = {**ROW, "response": {"output": []}}


@pytest.fixture
def toy(toy_environments: Path) -> type[ResourcesServer[Any, Any, Any]]:
    return load_environment("toy", toy_environments / "toy")


def client(app) -> TestClient:  # type: ignore[no-untyped-def]
    """In-process, with the app's lifespan (its `startup` hook) run on entering."""
    return TestClient(app, base_url="http://env")


def seeded(c: TestClient, row: dict[str, Any] = ROW) -> str:
    answer = c.post("/seed_session", json=row)
    assert answer.status_code == 200, answer.text
    return answer.cookies[SESSION_COOKIE]


def session_cookie(answer: Any) -> str | None:
    value = answer.cookies.get(SESSION_COOKIE)
    return str(value) if value is not None else None


def test_tools_are_routes_with_validated_bodies(toy) -> None:  # type: ignore[no-untyped-def]
    with client(toy().build_app()) as c:
        assert (c.get("/health")).json()["status"] == "ok"
        seeded(c)
        assert (c.post("/write", json={"text": "a"})).json() == {"lines": 2}
        missing = c.post("/write", json={})
        assert missing.status_code == 422
        assert missing.json()["error"] == "invalid arguments for write: text: Field required"
        wrong = c.post("/write", json={"text": 5})
        assert "text: Input should be a valid string" in wrong.json()["error"]
        not_json = c.post("/write", content=b"{nope", headers={"content-type": "application/json"})
        assert not_json.status_code == 400
        assert "not valid JSON" in not_json.json()["error"]
        assert (c.post("/read")).json() == {"notes": ["first", "a"]}  # no body: a tool without arguments
        refused = c.post("/write", json={"text": "forbidden"})
        assert refused.status_code == 400
        assert refused.json()["error"] == "that word is not allowed"


def test_seed_verify_and_aggregate(toy) -> None:  # type: ignore[no-untyped-def]
    with client(toy().build_app()) as c:
        seeded(c)
        c.post("/write", json={"text": "second"})
        verified = (c.post("/verify", json=VERIFY)).json()
        assert verified["reward"] == 1.0
        assert verified["notes_written"] == 2
        assert verified["start"] == "first"
        seeded(c)
        bad = c.post("/verify", json=ROW)  # no response
        assert bad.status_code == 422
        assert "response: Field required" in bad.json()["error"]
        metrics = (
            c.post(
                "/aggregate_metrics",
                json={"verify_responses": [{"reward": 1.0, "notes_written": 2}, {"reward": 0.0, "notes_written": 4}]},
            )
        ).json()
    assert metrics["key_metrics"] == {"mean/notes_written": 3.0, "mean/reward": 0.5}  # NeMo Gym's shape


def test_a_new_seed_starts_a_new_episode(toy) -> None:  # type: ignore[no-untyped-def]
    with client(toy().build_app()) as c:
        first = seeded(c, {"responses_create_params": {"input": "x"}})
        c.post("/write", json={"text": "old"})
        second = seeded(c, {"responses_create_params": {"input": "x"}})  # the old cookie goes along
        assert second != first
        assert (c.post("/read", json={})).json() == {"notes": []}


# ------------------------------------------------------------------------------------------ lost sessions


def assert_session_lost(answer: Any, *words: str) -> None:
    assert answer.status_code == 409, answer.text
    body = answer.json()
    assert set(body) == {"error", "kind"}
    assert body["kind"] == "session_lost"
    for word in words:
        assert word in body["error"], body


def test_a_call_without_a_session_is_a_409_not_a_fresh_episode(toy) -> None:  # type: ignore[no-untyped-def]
    with client(toy().build_app()) as c:
        assert_session_lost(c.post("/write", json={"text": "a"}), "/write", "no session cookie", "/seed_session")
        assert_session_lost(c.post("/verify", json=VERIFY), "/verify", "no session cookie")


def test_a_restarted_server_answers_409_for_the_episode_it_lost(toy) -> None:  # type: ignore[no-untyped-def]
    # The restart: a second server (fresh memory) gets the first one's cookie.
    with client(toy().build_app()) as before:
        session_id = seeded(before)
    with client(toy().build_app()) as after:
        after.cookies.set(SESSION_COOKIE, session_id)
        lost = after.post("/verify", json=VERIFY)
        assert_session_lost(lost, session_id, "unknown to this server", "restarted")
        assert session_cookie(lost) == session_id  # later calls keep naming the same lost episode
        assert_session_lost(after.post("/read"), session_id)


def test_an_expired_session_answers_409_saying_so(toy) -> None:  # type: ignore[no-untyped-def]
    server = toy(toy.Config(session_ttl_s=60))
    with client(server.build_app()) as c:
        session_id = seeded(c)
        session = server.sessions.get(session_id)
        assert session is not None
        session.last_seen -= 120  # idle twice the TTL
        assert_session_lost(c.post("/read"), session_id, "expired", "session_ttl_s 60 s")


def test_verify_ends_the_session(toy) -> None:  # type: ignore[no-untyped-def]
    server = toy()
    with client(server.build_app()) as c:
        session_id = seeded(c)
        assert len(server.sessions) == 1
        assert c.post("/verify", json=VERIFY).status_code == 200
        assert len(server.sessions) == 0
        assert_session_lost(c.post("/read"), session_id, "closed by /verify")
        assert_session_lost(c.post("/verify", json=VERIFY), "closed by /verify")
        seeded(c)
        assert c.post("/verify", json=ROW).status_code == 422  # an invalid body ends it too
        assert len(server.sessions) == 0


def test_a_malformed_cookie_is_lost_and_not_echoed(toy) -> None:  # type: ignore[no-untyped-def]
    with client(toy().build_app()) as c:
        c.cookies.set(SESSION_COOKIE, "not a session id!")
        lost = c.post("/read")
        assert_session_lost(lost, "malformed")
        assert session_cookie(lost) is None


def test_every_answer_in_an_episode_sets_its_cookie(toy) -> None:  # type: ignore[no-untyped-def]
    # NeMo Gym's simple_agent replaces its cookie jar with each tool response's: errors must carry it too.
    with client(toy().build_app()) as c:
        session_id = seeded(c)
        answers = {
            "ok": c.post("/write", json={"text": "a"}),
            "tool error 400": c.post("/write", json={"text": "forbidden"}),
            "invalid arguments 422": c.post("/write", json={}),
            "invalid JSON 400": c.post("/write", content=b"{", headers={"content-type": "application/json"}),
            "verify 422": c.post("/verify", json=ROW),
        }
    for what, answer in answers.items():
        assert session_cookie(answer) == session_id, what
        assert "httponly" in answer.headers["set-cookie"].lower(), what


def test_a_failed_seed_leaves_no_session(toy) -> None:  # type: ignore[no-untyped-def]
    server = toy()
    with client(server.build_app()) as c:
        bad_row = c.post("/seed_session", json={"responses_create_params": {"input": "x"}, "start": 5})
        assert bad_row.status_code == 422
        assert session_cookie(bad_row) is None
    assert len(server.sessions) == 0


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
    with pytest.raises(LookupError, match="max_sessions"):
        store.require(b.id, "/read")


# ------------------------------------------------------------------------------------------ typed contract


class Seed(RunRequest):
    start: str


class Check(VerifyRequest):
    target: str


class Settings(ResourcesServerConfig):
    bonus: float = 0.0


class Typed(ResourcesServer[Settings, Seed, Check]):
    async def seed_session(self, body: Seed, session: Session) -> None:
        session.state["start"] = body.start

    async def verify(self, body: Check, session: Session) -> float:
        return float(session.state["start"] == body.target) + self.config.bonus


def test_type_arguments_name_the_config_row_and_verify_models() -> None:
    assert (Typed.Config, Typed.Row, Typed.VerifyBody) == (Settings, Seed, Check)
    assert Typed().config == Settings()

    class Inherits(Typed):  # no type arguments of its own: the parent's stand
        pass

    assert (Inherits.Config, Inherits.Row, Inherits.VerifyBody) == (Settings, Seed, Check)

    class Defaults(ResourcesServer):  # type: ignore[type-arg]
        pass

    assert (Defaults.Config, Defaults.Row, Defaults.VerifyBody) == (ResourcesServerConfig, RunRequest, VerifyRequest)

    with client(Typed(Settings(bonus=0.5)).build_app()) as c:
        missing = c.post("/seed_session", json={"responses_create_params": {"input": "x"}})
        assert missing.status_code == 422
        assert "start: Field required" in missing.json()["error"]
        seeded(c, {"responses_create_params": {"input": "x"}, "start": "s"})
        verified = c.post("/verify", json={"responses_create_params": {"input": "x"}, "target": "s", "response": {}})
        assert verified.json()["reward"] == 1.5


def test_a_body_annotation_the_type_arguments_do_not_cover_is_refused() -> None:
    with pytest.raises(
        TypeError, match=r"verify takes body: Check, but the class validates that body as VerifyRequest"
    ):

        class Undeclared(ResourcesServer[Settings, Seed]):  # type: ignore[type-arg]
            async def verify(self, body: Check, session: Session) -> float:  # type: ignore[override]
                return 1.0

    with pytest.raises(TypeError, match="Config = Settings differs from the type argument ResourcesServerConfig"):

        class Twice(ResourcesServer[ResourcesServerConfig, RunRequest, VerifyRequest]):
            Config = Settings


def test_a_metric_named_like_a_row_field_is_refused(toy) -> None:  # type: ignore[no-untyped-def]
    class Clashing(toy):  # type: ignore[misc, valid-type]
        async def verify(self, body, session):  # type: ignore[no-untyped-def]
            return {"reward": 1.0, "target": "overwritten"}

    with client(Clashing().build_app()) as c:
        seeded(c)
        with pytest.raises(TypeError, match="target"):
            c.post("/verify", json=VERIFY)
