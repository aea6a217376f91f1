"""Generate calendar_multi_turn's rows, deterministically (stdlib only).

    python environments/calendar_multi_turn/data/generate.py [--out DIR]      # default: this folder

Writes `example.jsonl` (5 rows, with scripts for gymbox's scripted test model), `train.jsonl` and
`validation.jsonl`, byte for byte the same on every run.

Each row is one scenario, built backwards from a plan: the generator first lays out a valid final calendar
(the user's existing events, kept, moved or cancelled, plus 3-5 new ones, none overlapping, a free day kept
free), then writes the requests that calendar satisfies, in words, spread over 2-3 user messages (with a
change of mind or a dropped request now and then), and the constraints that check them. So every row has a
solution (`reference_calendar`), reachable with the tools: remove what is cancelled or moved, then add.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TRAIN_SEED, VALIDATION_SEED, EXAMPLE_SEED = 1_000, 2_000, 3_000
N_TRAIN, N_VALIDATION = 300, 60
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
GRID = 15  # planned events start on the quarter hour
DAY_OPENS, DAY_CLOSES = 7 * 60, 21 * 60  # planned events lie between 07:00 and 21:00
MAX_TRIES = 200

PEOPLE = (
    "Ana",
    "Ben",
    "Chen",
    "Dara",
    "Eli",
    "Farah",
    "Gus",
    "Hana",
    "Ivan",
    "Jo",
    "Kemal",
    "Lena",
    "Mo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Vik",
    "Wen",
    "Yara",
    "Zoe",
)
WITH_PERSON = ("1:1 with {}", "Lunch with {}", "Coffee with {}", "Call with {}", "Interview with {}", "Dinner with {}")
ACTIVITIES = (
    "Budget review",
    "Design review",
    "Sprint planning",
    "Quarterly report",
    "Client pitch",
    "Code review",
    "Team retro",
    "Vendor call",
    "Board meeting",
    "Hiring sync",
    "Product demo",
    "Roadmap session",
    "Dentist",
    "Gym",
    "Haircut",
    "Grocery run",
    "Doctor appointment",
    "Car service",
    "Long run",
    "Pottery class",
    "Swim",
    "Vet visit",
    "Bike repair",
    "Language class",
)
ROUTINES = (
    "Team standup",
    "Yoga",
    "Piano lesson",
    "Book club",
    "Choir practice",
    "Tennis",
    "Study group",
    "Volunteer shift",
    "Family call",
    "Guitar lesson",
)  # the user's existing commitments
PREPARATIONS = (
    "Prep slides",
    "Read the brief",
    "Draft agenda",
    "Review contract",
    "Pack bags",
    "Print tickets",
    "Book a table",
    "Buy a gift",
    "Write notes",
    "Update CV",
)
DURATIONS = (30, 45, 60, 90, 120)
WINDOWS = (("08:00", "12:00"), ("09:00", "13:00"), ("12:00", "17:00"), ("13:00", "18:00"), ("17:00", "21:00"))
ACKS = (
    "Noted. Anything else?",
    "Got it. What else is on your mind for the week?",
    "Okay, I'll keep that in mind. Anything more?",
    "Understood. Anything else?",
    "Sure, noted. Is there more?",
)
OPENINGS = (
    "Hi! Can you help me plan my week?",
    "Hello, let's sort out my calendar for this week.",
    "Hey, I need help with my schedule this week.",
    "Hi, a few things for my calendar this week.",
)
GO_AHEAD = (
    "That's everything. Please update my calendar now.",
    "That's all for this week. Please set up my calendar now.",
    "Okay, that's it. Go ahead and make the changes in my calendar.",
    "Nothing else. Please put all of this in my calendar now.",
)
SYSTEM = """\
You manage the user's calendar for one week, Monday to Sunday, with three tools: list_events() shows what is \
in it, add_event(title, day, start, end) adds an event and remove_event(title) removes one. Times are 24-hour \
HH:MM and an event ends after it starts, on the same day. Events may not overlap (one may start when another \
ends) and titles are unique. There is no tool to edit an event: to move one, remove it and add it again.

The user tells you what they need over several messages, and a later message can change or cancel an earlier \
request. Nothing is changed until the user asks. Then make the calendar match everything the user asked for, \
as it stands at the end of the conversation: give each event the title the user wrote in quotes, exactly; keep \
the events already in the calendar unless the user asks to move or cancel them; add nothing else. When the \
calendar is done, reply with a one-line summary."""


# ------------------------------------------------------------------------------------------ time


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def mins(time: str) -> int:
    return int(time[:2]) * 60 + int(time[3:])


def span(duration: int) -> str:
    """Duration in words: 'an hour', '90 minutes', '2 hours'."""
    if duration == 60:
        return "an hour"
    if duration % 60 == 0:
        return f"{duration // 60} hours"
    return f"{duration} minutes"


@dataclass(frozen=True)
class Slot:
    day: str
    start: int
    end: int

    def week(self) -> tuple[int, int]:
        offset = DAYS.index(self.day) * 1440
        return offset + self.start, offset + self.end

    def overlaps(self, other: Slot) -> bool:
        return self.day == other.day and self.start < other.end and other.start < self.end


def event(title: str, slot: Slot) -> dict[str, Any]:
    return {"title": title, "day": slot.day, "start": hhmm(slot.start), "end": hhmm(slot.end)}


# ------------------------------------------------------------------------------------------ scenarios


@dataclass
class Scenario:
    rng: random.Random
    free_day: str | None = None
    initial: dict[str, Slot] = field(default_factory=dict)  # the calendar when the episode starts
    plan: dict[str, Slot] = field(default_factory=dict)  # the final calendar, in the order it is built
    removed: list[str] = field(default_factory=list)  # initial events to remove (cancelled or moved)
    # (sentence, the request it changes: said in a later message, the request it refers to: not in an earlier one)
    requests: list[tuple[str, int | None, int | None]] = field(default_factory=list)
    introduced: dict[str, int] = field(default_factory=dict)  # title -> the request that asked for it
    constraints: list[dict[str, Any]] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)  # what the scenario exercises, to pick example rows
    messages: list[dict[str, Any]] = field(default_factory=list)  # the conversation, once built

    def title(self, pool: tuple[str, ...]) -> str:
        for _ in range(MAX_TRIES):
            name = self.rng.choice(pool)
            name = name.format(self.rng.choice(PEOPLE)) if "{}" in name else name
            if name not in self.used:
                self.used.add(name)
                return name
        raise RuntimeError("ran out of titles")

    def place(
        self,
        duration: int,
        days: list[str],
        earliest: int = DAY_OPENS,
        latest: int = DAY_CLOSES,
        before: int | None = None,
        avoid: Slot | None = None,
    ) -> Slot | None:
        """A random free slot of `duration` on one of `days`, within [earliest, latest], ending by `before`,
        other than `avoid`."""
        options = []
        for day in days:
            taken = [(slot.start, slot.end) for slot in self.plan.values() if slot.day == day]
            last_end = latest if before is None else min(latest, before - DAYS.index(day) * 1440)
            for start in range(earliest, last_end - duration + 1, GRID):
                end = start + duration
                slot = Slot(day, start, end)
                if slot != avoid and all(end <= other_start or other_end <= start for other_start, other_end in taken):
                    options.append(slot)
        return self.rng.choice(options) if options else None

    def open_days(self) -> list[str]:
        return [day for day in DAYS if day != self.free_day]

    def say(self, sentence: str, changes: int | None = None, refers_to: int | None = None) -> int:
        self.requests.append((sentence, changes, refers_to))
        return len(self.requests) - 1


def build(rng: random.Random) -> Scenario | None:
    """One random scenario, or None when its pieces do not fit (the caller draws again)."""
    s = Scenario(rng)
    if rng.random() < 0.5:
        s.free_day = rng.choice(DAYS)
    for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
        duration = rng.choice((30, 45, 60, 90))
        start = rng.randrange(DAY_OPENS, DAY_CLOSES - duration + 1, GRID)
        slot = Slot(rng.choice(DAYS), start, start + duration)
        if not any(slot.overlaps(other) for other in s.initial.values()):
            s.initial[s.title(ROUTINES)] = slot
    if s.free_day is not None:
        s.say(f"I'd like to keep {s.free_day} completely free: no events at all that day.")
        s.constraints.append({"kind": "day_free", "day": s.free_day})
        s.tags.add("free_day")
    kept = [t for t, slot in s.initial.items() if slot.day != s.free_day and rng.random() < 0.5]
    for title in kept:  # kept events are planned first: they cannot move
        s.plan[title] = s.initial[title]
        slot = s.initial[title]
        s.constraints.append(
            {"kind": "exact", "title": title, "day": slot.day, "start": hhmm(slot.start), "end": hhmm(slot.end)}
        )
    for title, slot in s.initial.items():
        if title in kept:
            continue
        s.removed.append(title)
        if rng.random() < 0.5:
            s.say(f"Please cancel '{title}' this week.")
            s.constraints.append({"kind": "absent", "title": title})
            s.tags.add("cancel")
            continue
        moved = s.place(slot.end - slot.start, s.open_days(), avoid=slot)
        if moved is None:
            return None
        s.plan[title] = moved
        s.introduced[title] = s.say(f"Move '{title}' to {moved.day} at {hhmm(moved.start)}, and keep its length.")
        s.constraints.append(
            {"kind": "exact", "title": title, "day": moved.day, "start": hhmm(moved.start), "end": hhmm(moved.end)}
        )
        s.tags.add("move")
    for _ in range(rng.randint(3, 5)):
        kind = rng.choices(("exact", "day", "window", "before"), weights=(35, 25, 25, 15))[0]
        if not NEW_EVENT[kind](s):
            return None
    if rng.random() < 0.3 and not dropped_request(s):
        return None
    s.constraints.append({"kind": "exactly", "titles": list(s.plan)})
    s.messages = conversation(s)
    return s


def exact_request(s: Scenario) -> bool:
    title = s.title(ACTIVITIES + WITH_PERSON)
    duration = s.rng.choice(DURATIONS)
    slot = s.place(duration, s.open_days())
    if slot is None:
        return False
    s.plan[title] = slot
    final = f"on {slot.day} from {hhmm(slot.start)} to {hhmm(slot.end)}"
    if s.rng.random() < 0.35:  # first asked for another time, changed later
        earlier = Slot(s.rng.choice(s.open_days()), slot.start, slot.end)
        if earlier.day == slot.day:
            earlier = Slot(slot.day, max(DAY_OPENS, slot.start - 120), max(DAY_OPENS, slot.start - 120) + duration)
        if earlier != slot:
            asked = s.say(f"Add '{title}' on {earlier.day} from {hhmm(earlier.start)} to {hhmm(earlier.end)}.")
            s.introduced[title] = asked
            s.say(f"Change of plan: '{title}' should be {final} instead.", changes=asked)
            s.tags.add("change")
        else:
            s.introduced[title] = s.say(f"Add '{title}' {final}.")
    else:
        s.introduced[title] = s.say(f"Add '{title}' {final}.")
    s.constraints.append(
        {"kind": "exact", "title": title, "day": slot.day, "start": hhmm(slot.start), "end": hhmm(slot.end)}
    )
    return True


def day_request(s: Scenario) -> bool:
    title = s.title(ACTIVITIES + WITH_PERSON)
    duration = s.rng.choice(DURATIONS)
    day = s.rng.choice(s.open_days())
    slot = s.place(duration, [day])
    if slot is None:
        return False
    s.plan[title] = slot
    s.introduced[title] = s.say(f"I need {span(duration)} for '{title}' on {day}; any time that day works.")
    s.constraints += [
        {"kind": "on_day", "title": title, "day": day},
        {"kind": "duration", "title": title, "minutes": duration},
    ]
    return True


def window_request(s: Scenario) -> bool:
    title = s.title(ACTIVITIES + WITH_PERSON)
    duration = s.rng.choice(DURATIONS[:4])
    day = s.rng.choice(s.open_days())
    earliest, latest = s.rng.choice(WINDOWS)
    slot = s.place(duration, [day], mins(earliest), mins(latest))
    if slot is None:
        return False
    s.plan[title] = slot
    s.introduced[title] = s.say(
        f"Schedule '{title}' on {day} for {span(duration)}, starting no earlier than "
        f"{earliest} and finishing by {latest}."
    )
    s.constraints += [
        {"kind": "on_day", "title": title, "day": day},
        {"kind": "duration", "title": title, "minutes": duration},
        {"kind": "within", "title": title, "earliest": earliest, "latest": latest},
    ]
    s.tags.add("window")
    return True


def before_request(s: Scenario) -> bool:
    fixed = [t for t in s.plan if t not in PREPARATIONS]
    if not fixed:
        return exact_request(s)
    anchor = s.rng.choice(fixed)
    title = s.title(PREPARATIONS)
    duration = s.rng.choice(DURATIONS[:4])
    slot = s.place(duration, s.open_days(), before=s.plan[anchor].week()[0])
    if slot is None:
        return False
    s.plan[title] = slot
    s.introduced[title] = s.say(
        f"I also need {span(duration)} for '{title}', any time before '{anchor}' starts.",
        refers_to=s.introduced.get(anchor),
    )
    s.constraints += [
        {"kind": "duration", "title": title, "minutes": duration},
        {"kind": "before", "first": title, "second": anchor},
    ]
    s.tags.add("before")
    return True


NEW_EVENT: dict[str, Callable[[Scenario], bool]] = {
    "exact": exact_request,
    "day": day_request,
    "window": window_request,
    "before": before_request,
}


def dropped_request(s: Scenario) -> bool:
    """A request the user takes back later: its event must not be in the calendar."""
    title = s.title(ACTIVITIES + WITH_PERSON)
    day = s.rng.choice(s.open_days())
    asked = s.say(f"I need {span(s.rng.choice(DURATIONS))} for '{title}' on {day}; any time that day works.")
    s.say(f"Actually, forget '{title}': no need to schedule it.", changes=asked)
    s.constraints.append({"kind": "absent", "title": title})
    s.tags.add("drop")
    return True


# ------------------------------------------------------------------------------------------ conversation


def conversation(s: Scenario) -> list[dict[str, Any]]:
    """The requests spread over 2-3 user messages, in order, each change after what it changes; then go."""
    rng = s.rng
    turns = rng.randint(2, 3)  # messages with requests; the last message (number `turns`) says go
    turn_of: list[int] = []
    for _, changes, refers_to in s.requests:
        if changes is not None:  # a change comes in a later message than the request it changes
            turn_of.append(rng.randint(turn_of[changes] + 1, turns))
        else:  # a reference to another request's event comes with it or later
            turn_of.append(rng.randint(0 if refers_to is None else turn_of[refers_to], turns - 1))
    buckets = [
        [sentence for (sentence, _, _), turn in zip(s.requests, turn_of, strict=True) if turn == number]
        for number in range(turns + 1)
    ]
    buckets = [bucket for number, bucket in enumerate(buckets) if bucket or number == turns]
    buckets[0].insert(0, rng.choice(OPENINGS))
    buckets[-1].append(rng.choice(GO_AHEAD))
    items = [{"role": "system", "content": SYSTEM}]
    for number, bucket in enumerate(buckets):
        if number:
            items.append({"role": "assistant", "content": rng.choice(ACKS)})
        items.append({"role": "user", "content": " ".join(bucket)})
    return items


# ------------------------------------------------------------------------------------------ rows


def tool_definitions() -> list[dict[str, Any]]:
    """The server's tools, as `CalendarMultiTurnServer.tool_definitions()` gives them (a test checks)."""
    time = {"description": "24-hour time HH:MM, e.g. 09:30", "type": "string"}
    title = {"maxLength": 100, "minLength": 1, "title": "Title", "type": "string"}
    return [
        {
            "type": "function",
            "name": "add_event",
            "description": "Add an event to the week's calendar. Times are 24-hour HH:MM and the event ends after it "
            "starts, on the same day. Refused if it overlaps an event or reuses a title.",
            "parameters": {
                "properties": {
                    "title": {"description": "The event's title, exactly as the user wrote it", **title},
                    "day": {"description": "Day of the week", "enum": list(DAYS), "title": "Day", "type": "string"},
                    "start": {"description": time["description"], "title": "Start", "type": "string"},
                    "end": {"description": time["description"], "title": "End", "type": "string"},
                },
                "required": ["title", "day", "start", "end"],
                "title": "AddEventArgs",
                "type": "object",
            },
            "strict": False,
        },
        {
            "type": "function",
            "name": "list_events",
            "description": "List every event in the week's calendar, in time order.",
            "parameters": {"properties": {}, "title": "ListEventsArgs", "type": "object"},
            "strict": False,
        },
        {
            "type": "function",
            "name": "remove_event",
            "description": "Remove the event with this title from the calendar.",
            "parameters": {
                "properties": {"title": {"description": "The title of the event to remove", **title}},
                "required": ["title"],
                "title": "RemoveEventArgs",
                "type": "object",
            },
            "strict": False,
        },
    ]


def make_row(index: int, s: Scenario, script: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"input": s.messages, "tools": tool_definitions()}
    if script is not None:
        params["metadata"] = {"gymbox_script": json.dumps(script, separators=(",", ":"))}
    return {
        "responses_create_params": params,
        "id": index,
        "initial_events": in_time_order(s.initial),
        "constraints": s.constraints,
        "reference_calendar": in_time_order(s.plan),
    }


def in_time_order(calendar: dict[str, Slot]) -> list[dict[str, Any]]:
    """Events as list_events shows them."""
    return [event(title, slot) for title, slot in sorted(calendar.items(), key=lambda item: (item[1].week(), item[0]))]


def scenarios(seed: int, count: int, seen: set[str]) -> list[Scenario]:
    """`count` scenarios from `seed`, skipping any whose conversation is already in `seen` (which grows)."""
    out: list[Scenario] = []
    attempt = 0
    while len(out) < count:
        attempt += 1
        if attempt > count * 20:
            raise RuntimeError(f"seed {seed}: only {len(out)} of {count} scenarios after {attempt} attempts")
        s = build(random.Random(seed * 100_003 + attempt))
        if s is None:
            continue
        key = json.dumps(s.messages)
        if key in seen:
            continue
        seen.add(key)
        out.append(s)
    return out


# ------------------------------------------------------------------------------------------ example rows


def call(name: str, **arguments: str) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def add(title: str, slot: Slot) -> dict[str, Any]:
    return call("add_event", **event(title, slot))


def steps(s: Scenario) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The tool calls that turn the initial calendar into the plan: removals, then additions."""
    removals = [call("remove_event", title=title) for title in s.removed]
    additions = [add(title, slot) for title, slot in s.plan.items() if s.initial.get(title) != slot]
    return removals, additions


DONE = {"say": "Done: your calendar for the week is set."}


def one_call_per_turn(s: Scenario) -> list[dict[str, Any]]:
    removals, additions = steps(s)
    return [{"calls": [call("list_events")]}, *({"calls": [c]} for c in removals + additions), DONE]


def retry_after_overlap(s: Scenario) -> list[dict[str, Any]]:
    """Tries the first new event on top of a kept event, reads the 409, then adds it where it belongs."""
    removals, additions = steps(s)
    blocker = next(slot for title, slot in s.plan.items() if s.initial.get(title) == slot)
    first = additions[0]["arguments"]
    length = mins(first["end"]) - mins(first["start"])
    clash = {**first, "day": blocker.day, "start": hhmm(blocker.start), "end": hhmm(blocker.start + length)}
    return [
        {"think": "Check what is already there first.", "calls": [call("list_events")]},
        *({"calls": [c]} for c in removals),
        {"calls": [{"name": "add_event", "arguments": clash}]},
        *({"calls": [c]} for c in additions),
        DONE,
    ]


def parallel(s: Scenario) -> list[dict[str, Any]]:
    removals, additions = steps(s)
    return (
        [{"calls": [call("list_events")]}, {"calls": removals}, {"calls": additions}, DONE]
        if removals
        else [{"calls": [call("list_events")]}, {"calls": additions}, DONE]
    )


def own_titles(s: Scenario) -> list[dict[str, Any]]:
    """Adds every event at the right time under a title of its own making: every constraint fails."""
    _, additions = steps(s)
    renamed = [{**a, "arguments": {**a["arguments"], "title": "Appt: " + a["arguments"]["title"]}} for a in additions]
    return [{"calls": [call("list_events")]}, *({"calls": [c]} for c in renamed), DONE]


def no_initial_events(s: Scenario) -> bool:
    return not s.initial and not ({"free_day", "drop"} & s.tags)


def keeps_an_event(s: Scenario) -> bool:
    return any(s.initial.get(title) == slot for title, slot in s.plan.items())


# (what the row must exercise, its script): rows 0-3 earn 1.0; row 4 earns 0.0.
EXAMPLES: tuple[tuple[Callable[[Scenario], bool], Callable[[Scenario], list[dict[str, Any]]]], ...] = (
    (lambda s: {"cancel", "move"} <= s.tags, one_call_per_turn),
    (lambda s: keeps_an_event(s) and "window" in s.tags, retry_after_overlap),
    (lambda s: {"change", "before"} <= s.tags, parallel),
    (lambda s: {"free_day", "drop"} <= s.tags, one_call_per_turn),
    (no_initial_events, own_titles),
)


def example_rows(seen: set[str]) -> list[dict[str, Any]]:
    """For each example row, the first scenario from EXAMPLE_SEED that exercises what the row needs."""
    pool = scenarios(EXAMPLE_SEED, 60, seen)
    rows = []
    for index, (wanted, script) in enumerate(EXAMPLES):
        s = next(s for s in pool if wanted(s))
        pool.remove(s)
        rows.append(make_row(index, s, script(s)))
    return rows


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    train = [make_row(i, s) for i, s in enumerate(scenarios(TRAIN_SEED, N_TRAIN, seen))]
    validation = [make_row(i, s) for i, s in enumerate(scenarios(VALIDATION_SEED, N_VALIDATION, seen))]
    examples = example_rows(seen)
    for name, rows in (("example.jsonl", examples), ("train.jsonl", train), ("validation.jsonl", validation)):
        (out / name).write_text(jsonl(rows), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into (default: this one)")
    generate(parser.parse_args().out)


if __name__ == "__main__":
    main()
