"""Per-episode state, keyed by the session cookie, expiring so that memory does not grow forever.

A session that is asked for and not found is lost, never silently replaced by a fresh one: the store
remembers, for a while, why recent sessions ended (closed by `/verify`, expired, evicted), so the error
can say so. An id it never saw means the server restarted or another replica holds the episode.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

# What `new()` makes: token_urlsafe(18) is 24 characters of [A-Za-z0-9_-].
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
ENDED_MEMORY = 10_000  # how many ended sessions' reasons are kept for error messages


@dataclass
class Session:
    id: str
    state: dict[str, Any] = field(default_factory=dict)
    last_seen: float = 0.0


class SessionLost(LookupError):
    """A request named no session, or one this server does not hold (any more)."""

    def __init__(self, message: str, session_id: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.session_id = session_id  # what the request sent, when it looks like an id


class SessionStore:
    """Sessions in least-recently-used order; idle ones expire after `ttl_s`, and at most `max_sessions` live."""

    def __init__(self, ttl_s: float = 3600.0, max_sessions: int = 100_000) -> None:
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._ended: OrderedDict[str, str] = OrderedDict()  # id -> why it ended, newest last

    def __len__(self) -> int:
        return len(self._sessions)

    def new(self) -> Session:
        self._expire()
        session = Session(id=secrets.token_urlsafe(18), last_seen=time.monotonic())
        self._sessions[session.id] = session
        while len(self._sessions) > self.max_sessions:
            evicted, _ = self._sessions.popitem(last=False)
            self._end(evicted, f"evicted: more than max_sessions ({self.max_sessions}) episodes were open")
        return session

    def get(self, session_id: str | None) -> Session | None:
        self._expire()
        session = self._sessions.get(session_id) if session_id else None
        if session is not None:
            session.last_seen = time.monotonic()
            self._sessions.move_to_end(session.id)
        return session

    def require(self, session_id: str | None, what: str) -> Session:
        """The live session `session_id`, or SessionLost saying why there is none (`what` names the call)."""
        session = self.get(session_id)
        if session is not None:
            return session
        valid = session_id if session_id and SESSION_ID.fullmatch(session_id) else None
        if not session_id:
            why = "the request carries no session cookie; call /seed_session first and send back its cookie"
        elif valid is None:
            why = "the session cookie is malformed"
        elif valid in self._ended:
            why = f"session {valid} ended ({self._ended[valid]})"
        else:
            why = (
                f"session {valid} is unknown to this server: it restarted since /seed_session, or "
                "another replica holds the episode"
            )
        raise SessionLost(f"{what}: {why}; the episode cannot go on", valid)

    def close(self, session_id: str, reason: str) -> None:
        """Forget a session now (its episode is over)."""
        if self._sessions.pop(session_id, None) is not None:
            self._end(session_id, reason)

    def _expire(self) -> None:
        now = time.monotonic()
        deadline = now - self.ttl_s
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if oldest.last_seen >= deadline:
                break
            self._sessions.popitem(last=False)
            self._end(oldest.id, f"expired: idle {now - oldest.last_seen:.0f} s, over session_ttl_s {self.ttl_s:g} s")

    def _end(self, session_id: str, reason: str) -> None:
        self._ended[session_id] = reason
        while len(self._ended) > ENDED_MEMORY:
            self._ended.popitem(last=False)
