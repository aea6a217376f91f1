"""example_single_tool_call: one tool, one call — the smallest complete gymbox environment.

The model is asked about the weather, calls `get_weather(city)`, and answers. `verify` rewards 1.0 iff the
model called the tool and its final answer names every weather the tool reported, else 0.0: this
environment teaches the shape of an environment (a tool, its argument model, episode state, a verifier),
not much of a skill.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from gymbox import ResourcesServer, ResourcesServerConfig, RunRequest, Session, VerifyRequest, tool

WEATHER_KINDS = ("sunny", "cloudy", "rainy", "windy", "snowy", "foggy", "cold", "hot")
REPORTED = "reported"  # session state key: the weather kinds get_weather returned in this episode


def weather_for(city: str) -> str:
    """The same city always has the same weather, whatever its case or spacing, in every process."""
    key = " ".join(city.split()).casefold()
    return WEATHER_KINDS[hashlib.sha256(key.encode()).digest()[0] % len(WEATHER_KINDS)]


class GetWeatherArgs(BaseModel):
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="Name of the city, e.g. Paris"
    )


class GetWeatherResult(BaseModel):
    city: str
    weather: str


class SingleToolCallServer(ResourcesServer[ResourcesServerConfig, RunRequest, VerifyRequest]):
    @tool
    async def get_weather(self, args: GetWeatherArgs, session: Session) -> GetWeatherResult:
        """Get the current weather in a city."""
        weather = weather_for(args.city)
        session.state.setdefault(REPORTED, []).append(weather)
        return GetWeatherResult(city=args.city, weather=weather)

    async def verify(self, body: VerifyRequest, session: Session) -> float:
        """1.0 iff the tool was called and the final answer names (as a word) each weather it reported."""
        reported = session.state.get(REPORTED, [])
        answer = body.response.last_message_text
        named = all(re.search(rf"\b{kind}\b", answer, re.IGNORECASE) for kind in reported)
        return float(bool(reported) and named)
