"""calendar_multi_turn: turn a multi-turn conversation about a week's plans into a calendar, with tools.

The row's `input` is a whole conversation: the user asks for events over several messages, later ones
changing or cancelling earlier requests, with the assistant's short replies between them, and the last
message asks for the calendar to be set up. The episode's calendar starts from the row's `initial_events`
(the user's existing commitments) and lives in the session; the model edits it with `add_event`,
`remove_event` and `list_events`, over as many steps as it needs. `add_event` validates the day and times
and refuses an overlap or a duplicate title with a 4xx error the model reads.

`verify` checks each of the row's `constraints` against the final calendar (an event exists or not, sits at
an exact time, on a day, lasts so long, falls in a window, comes before another, a day stays free, the
calendar holds exactly these titles): reward = the fraction satisfied; `all_satisfied` is 1.0 iff all are.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StringConstraints, model_validator

from gymbox import ResourcesServer, ResourcesServerConfig, RunRequest, Session, ToolError, VerifyRequest, tool

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EVENTS = "events"  # session state key: the calendar, a list of event dicts
TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


def normalise_day(value: Any) -> Any:
    """'monday', 'MONDAY' and 'Mon' are 'Monday'; anything else is left for the Literal to refuse."""
    if isinstance(value, str):
        text = value.strip().lower()
        for day in DAYS:
            if text in (day.lower(), day[:3].lower()):
                return day
    return value


def check_time(value: str) -> str:
    """A 24-hour time, 'HH:MM' (or 'H:MM'), returned as 'HH:MM'."""
    found = TIME.match(value.strip())
    if not found or int(found[1]) > 23 or int(found[2]) > 59:
        raise ValueError(f"{value!r} is not a 24-hour time HH:MM, e.g. 09:30")
    return f"{int(found[1]):02d}:{found[2]}"


def minutes(time: str) -> int:
    hours, mins = time.split(":")
    return int(hours) * 60 + int(mins)


def normalise_title(title: str) -> str:
    """What makes two titles the same: case and spacing do not count."""
    return " ".join(title.split()).casefold()


Day = Annotated[Literal[DAYS], BeforeValidator(normalise_day)]  # type: ignore[valid-type]
Time = Annotated[str, AfterValidator(check_time), Field(description="24-hour time HH:MM, e.g. 09:30")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Event(BaseModel):
    title: Title
    day: Day
    start: Time
    end: Time

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> Event:
        if minutes(self.end) <= minutes(self.start):
            raise ValueError(f"end ({self.end}) must be after start ({self.start}), on the same day")
        return self

    def label(self) -> str:
        return f"'{self.title}' ({self.day} {self.start}-{self.end})"

    def week_start(self) -> int:
        return DAYS.index(self.day) * 1440 + minutes(self.start)

    def week_end(self) -> int:
        return DAYS.index(self.day) * 1440 + minutes(self.end)

    def overlaps(self, other: Event) -> bool:
        return (
            self.day == other.day
            and minutes(self.start) < minutes(other.end)
            and minutes(other.start) < minutes(self.end)
        )


def conflict(events: list[Event], new: Event) -> str | None:
    """Why `new` cannot join `events` (a duplicate title or an overlap), or None when it can."""
    for event in events:
        if normalise_title(event.title) == normalise_title(new.title):
            return (
                f"an event titled '{event.title}' already exists: {event.label()}; titles are unique, so "
                "remove it first to change it"
            )
    for event in events:
        if event.overlaps(new):
            return (
                f"{new.label()} overlaps {event.label()}; events may not overlap: pick another time, or "
                "remove that event first"
            )
    return None


def sorted_events(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda event: (event.week_start(), event.week_end(), event.title))


def find(events: list[Event], title: str) -> Event | None:
    wanted = normalise_title(title)
    return next((event for event in events if normalise_title(event.title) == wanted), None)


# ------------------------------------------------------------------------------------------ constraints


class Exists(BaseModel):
    kind: Literal["exists"] = "exists"
    title: Title

    def describe(self) -> str:
        return f"'{self.title}' is in the calendar"

    def check(self, events: list[Event]) -> bool:
        return find(events, self.title) is not None


class Absent(BaseModel):
    kind: Literal["absent"] = "absent"
    title: Title

    def describe(self) -> str:
        return f"'{self.title}' is not in the calendar"

    def check(self, events: list[Event]) -> bool:
        return find(events, self.title) is None


class Exact(BaseModel):
    kind: Literal["exact"] = "exact"
    title: Title
    day: Day
    start: Time
    end: Time

    def describe(self) -> str:
        return f"'{self.title}' is on {self.day} {self.start}-{self.end}"

    def check(self, events: list[Event]) -> bool:
        event = find(events, self.title)
        return event is not None and (event.day, event.start, event.end) == (self.day, self.start, self.end)


class OnDay(BaseModel):
    kind: Literal["on_day"] = "on_day"
    title: Title
    day: Day

    def describe(self) -> str:
        return f"'{self.title}' is on {self.day}"

    def check(self, events: list[Event]) -> bool:
        event = find(events, self.title)
        return event is not None and event.day == self.day


class Duration(BaseModel):
    kind: Literal["duration"] = "duration"
    title: Title
    minutes: int = Field(gt=0, le=1440)

    def describe(self) -> str:
        return f"'{self.title}' lasts {self.minutes} minutes"

    def check(self, events: list[Event]) -> bool:
        event = find(events, self.title)
        return event is not None and minutes(event.end) - minutes(event.start) == self.minutes


class Within(BaseModel):
    kind: Literal["within"] = "within"
    title: Title
    earliest: Time
    latest: Time

    def describe(self) -> str:
        return f"'{self.title}' starts at {self.earliest} or later and ends by {self.latest}"

    def check(self, events: list[Event]) -> bool:
        event = find(events, self.title)
        return (
            event is not None
            and minutes(self.earliest) <= minutes(event.start)
            and minutes(event.end) <= minutes(self.latest)
        )


class Before(BaseModel):
    kind: Literal["before"] = "before"
    first: Title
    second: Title

    def describe(self) -> str:
        return f"'{self.first}' ends before '{self.second}' starts (in the week, Monday first)"

    def check(self, events: list[Event]) -> bool:
        first, second = find(events, self.first), find(events, self.second)
        return first is not None and second is not None and first.week_end() <= second.week_start()


class DayFree(BaseModel):
    kind: Literal["day_free"] = "day_free"
    day: Day

    def describe(self) -> str:
        return f"{self.day} has no events"

    def check(self, events: list[Event]) -> bool:
        return all(event.day != self.day for event in events)


class Exactly(BaseModel):
    kind: Literal["exactly"] = "exactly"
    titles: list[Title]

    def describe(self) -> str:
        return "the calendar holds exactly " + ", ".join(f"'{title}'" for title in self.titles)

    def check(self, events: list[Event]) -> bool:
        have = sorted(normalise_title(event.title) for event in events)
        return have == sorted(normalise_title(title) for title in self.titles)


Constraint = Annotated[
    Exists | Absent | Exact | OnDay | Duration | Within | Before | DayFree | Exactly, Field(discriminator="kind")
]


# ------------------------------------------------------------------------------------------ the server


class CalendarConfig(ResourcesServerConfig):
    max_events: int = Field(default=50, gt=0, description="add_event refuses more events than this")


class AddEventArgs(BaseModel):
    title: Title = Field(description="The event's title, exactly as the user wrote it")
    day: Day = Field(description="Day of the week")
    start: Time
    end: Time


class AddEventResult(BaseModel):
    added: Event
    events: int  # how many the calendar now holds


class ListEventsArgs(BaseModel):
    pass


class ListEventsResult(BaseModel):
    events: list[Event]


class RemoveEventArgs(BaseModel):
    title: Title = Field(description="The title of the event to remove")


class RemoveEventResult(BaseModel):
    removed: Event
    events: int


class CalendarTask(RunRequest):
    """A task row's fields beyond `responses_create_params`."""

    initial_events: list[Event] = Field(default_factory=list, description="the calendar when the episode starts")
    constraints: list[Constraint] = Field(min_length=1)

    @model_validator(mode="after")
    def _initial_events_fit(self) -> CalendarTask:
        placed: list[Event] = []
        for event in self.initial_events:
            problem = conflict(placed, event)
            if problem:
                raise ValueError(f"initial_events: {problem}")
            placed.append(event)
        return self


class CalendarVerifyRequest(CalendarTask, VerifyRequest):
    pass


def calendar(session: Session) -> list[Event]:
    events: list[Event] = session.state.setdefault(EVENTS, [])
    return events


class CalendarMultiTurnServer(ResourcesServer[CalendarConfig, CalendarTask, CalendarVerifyRequest]):
    async def seed_session(self, body: CalendarTask, session: Session) -> None:
        session.state[EVENTS] = [event.model_copy() for event in body.initial_events]

    @tool
    async def add_event(self, args: AddEventArgs, session: Session) -> AddEventResult:
        """Add an event to the week's calendar. Times are 24-hour HH:MM and the event ends after it starts, on the same day. Refused if it overlaps an event or reuses a title."""  # noqa: E501
        events = calendar(session)
        try:
            event = Event(title=args.title, day=args.day, start=args.start, end=args.end)
        except ValueError as exc:
            raise ToolError(f"invalid event: {_first_error(exc)}") from None
        problem = conflict(events, event)
        if problem:
            raise ToolError(problem, status_code=409)
        if len(events) >= self.config.max_events:
            raise ToolError(f"the calendar is full ({self.config.max_events} events); remove one first")
        events.append(event)
        return AddEventResult(added=event, events=len(events))

    @tool
    async def list_events(self, args: ListEventsArgs, session: Session) -> ListEventsResult:
        """List every event in the week's calendar, in time order."""
        return ListEventsResult(events=sorted_events(calendar(session)))

    @tool
    async def remove_event(self, args: RemoveEventArgs, session: Session) -> RemoveEventResult:
        """Remove the event with this title from the calendar."""
        events = calendar(session)
        event = find(events, args.title)
        if event is None:
            titles = ", ".join(f"'{e.title}'" for e in sorted_events(events)) or "nothing"
            raise ToolError(f"no event titled '{args.title}'; the calendar holds {titles}", status_code=404)
        events.remove(event)
        return RemoveEventResult(removed=event, events=len(events))

    async def verify(self, body: CalendarVerifyRequest, session: Session) -> dict[str, Any]:
        events = calendar(session)
        results = [constraint.check(events) for constraint in body.constraints]
        satisfied = sum(results)
        return {
            "reward": satisfied / len(results),
            "all_satisfied": float(satisfied == len(results)),
            "satisfied": satisfied,
            "n_constraints": len(results),
            "final_events": len(events),
            "violations": [c.describe() for c, ok in zip(body.constraints, results, strict=True) if not ok],
            "calendar": [event.model_dump() for event in sorted_events(events)],
        }


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first.get("msg", exc)).removeprefix("Value error, ")
    return str(exc)
