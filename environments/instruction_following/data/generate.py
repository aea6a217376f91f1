"""Generate instruction_following's datasets: writing tasks with 2-4 verifiable instructions each.

    python environments/instruction_following/data/generate.py            # rewrite the files beside this script
    python environments/instruction_following/data/generate.py --out DIR  # write them into DIR instead

Deterministic (seeded `random.Random`, stdlib only, plus the environment's own checks.py for the sentence
that states each instruction): the output is byte for byte what is committed, and a test checks that.
A task is a form ("a blog post", "an email to a colleague", ...) about a topic; its instructions are drawn
so that they never contradict each other (never lowercase and uppercase; never bullet and paragraph
counts; forbidden words never among the required ones or inside a required phrase; at most as many words
as the other instructions need) and so that each task has at least one that asks for content (a minimum
length, keywords, bullets or paragraphs), so that a near-empty answer cannot collect the rest.

Rows: `example.jsonl` (5 hand-written tasks, with scripts for gymbox's scripted test model), `train.jsonl`
and `validation.jsonl` (no scripts; their prompts are disjoint).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
from pathlib import Path
from typing import Any

SEED = 20250612
TRAIN_SIZE = 1000
VALIDATION_SIZE = 200
SCRIPT_LIMIT = 512  # a metadata value's limit: an example row's script must fit


def _load_checks() -> Any:
    path = Path(__file__).resolve().parents[1] / "checks.py"
    spec = importlib.util.spec_from_file_location("instruction_following_checks", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


checks = _load_checks()

# (topic, keywords a response can naturally use, the topic's obvious words: candidates to forbid)
TOPICS: list[tuple[str, list[str], list[str]]] = [
    ("cycling to work", ["helmet", "traffic", "fitness", "commute", "rain"], ["bike", "bicycle"]),
    ("learning a second language", ["vocabulary", "grammar", "practice", "accent", "mistakes"], ["language"]),
    ("starting a vegetable garden", ["soil", "seeds", "sunlight", "compost", "harvest"], ["garden", "plant"]),
    ("working from home", ["routine", "desk", "meetings", "focus", "breaks"], ["home", "remote"]),
    ("saving money on groceries", ["budget", "list", "discount", "seasonal", "leftovers"], ["money", "cheap"]),
    ("adopting a rescue dog", ["shelter", "patience", "walks", "training", "trust"], ["dog", "puppy"]),
    ("visiting a national park", ["trail", "map", "wildlife", "ranger", "water"], ["park", "nature"]),
    ("getting better sleep", ["bedtime", "screens", "caffeine", "dark", "routine"], ["sleep", "tired"]),
    ("composting kitchen scraps", ["peels", "worms", "bin", "soil", "smell"], ["compost", "waste"]),
    ("learning to play the piano", ["scales", "practice", "teacher", "rhythm", "fingers"], ["piano", "music"]),
    ("the first day at a new job", ["colleagues", "questions", "badge", "lunch", "notes"], ["job", "work"]),
    ("why public libraries matter", ["books", "community", "free", "librarian", "quiet"], ["library", "read"]),
    ("volunteering at a food bank", ["donations", "shifts", "neighbours", "shelves", "kindness"], ["food", "help"]),
    ("baking bread at home", ["flour", "yeast", "oven", "crust", "dough"], ["bread", "bake"]),
    ("running a first marathon", ["training", "shoes", "miles", "water", "finish"], ["run", "race"]),
    ("decluttering a wardrobe", ["donate", "hangers", "seasons", "boxes", "space"], ["clothes", "closet"]),
    ("a school science fair", ["experiment", "poster", "judges", "hypothesis", "volcano"], ["science", "school"]),
    ("protecting coral reefs", ["ocean", "bleaching", "fish", "divers", "temperature"], ["coral", "reef"]),
    ("switching to an electric car", ["battery", "charging", "range", "quiet", "maintenance"], ["car", "electric"]),
    ("keeping houseplants alive", ["light", "watering", "pots", "leaves", "humidity"], ["plant", "green"]),
    ("time management for students", ["deadlines", "calendar", "priorities", "breaks", "exams"], ["time", "study"]),
    ("camping in the mountains", ["tent", "stove", "stars", "boots", "weather"], ["camp", "mountain"]),
    ("shopping at a farmers market", ["stalls", "farmers", "seasonal", "basket", "honey"], ["market", "fresh"]),
    ("writing letters by hand", ["paper", "stamps", "pen", "envelope", "patience"], ["letter", "write"]),
    ("a long train journey", ["window", "tickets", "carriage", "scenery", "snacks"], ["train", "travel"]),
    ("recycling at the office", ["bins", "paper", "plastic", "labels", "colleagues"], ["recycle", "office"]),
    ("teaching a child to swim", ["pool", "floats", "confidence", "breathing", "splash"], ["swim", "water"]),
    ("birdwatching for beginners", ["binoculars", "feathers", "songs", "notebook", "dawn"], ["bird", "watch"]),
    ("phones and attention spans", ["notifications", "focus", "screens", "habits", "silence"], ["phone", "app"]),
    (
        "a neighbourhood street festival",
        ["music", "stalls", "neighbours", "lanterns", "dancing"],
        ["festival", "party"],
    ),
    ("brewing coffee at home", ["beans", "grinder", "kettle", "aroma", "morning"], ["coffee", "cup"]),
    ("starting a book club", ["members", "chapters", "snacks", "discussion", "monthly"], ["book", "club"]),
    ("learning to cook for one", ["recipes", "portions", "freezer", "spices", "shopping"], ["cook", "meal"]),
    ("a rainy weekend indoors", ["puzzles", "blankets", "tea", "films", "windows"], ["rain", "weekend"]),
    ("moving to a new city", ["boxes", "neighbours", "streets", "lease", "friends"], ["city", "move"]),
    ("solar panels on the roof", ["sunlight", "installer", "savings", "inverter", "bills"], ["solar", "energy"]),
    ("a board game night", ["dice", "rules", "snacks", "teams", "winner"], ["game", "play"]),
    ("looking at the night sky", ["stars", "telescope", "planets", "moon", "darkness"], ["sky", "night"]),
    (
        "caring for an elderly parent",
        ["appointments", "patience", "visits", "medication", "siblings"],
        ["parent", "care"],
    ),
    ("keeping a journal", ["notebook", "thoughts", "habit", "evening", "honesty"], ["journal", "diary"]),
]

FORMS = [
    "Write a short blog post about {}.",
    "Write an email to a colleague about {}.",
    "Write a letter to a friend about {}.",
    "Write a short essay on {}.",
    "Write practical advice for a beginner about {}.",
    "Write a short speech for a community meeting about {}.",
    "Write a newsletter item about {}.",
    "Write a diary entry about {}.",
    "Write a short story that involves {}.",
    "Explain to a twelve-year-old the basics of {}.",
]
GENERIC_FORBIDDEN = ["very", "really", "just", "basically", "amazing", "important", "things", "stuff"]
START_PHRASES = ["Dear reader", "Here is the thing", "Picture this", "Good morning everyone", "Let me be honest"]
END_PHRASES = [
    "Is there anything else I can help with?",
    "Thanks for reading.",
    "That is all for today.",
    "Let me know what you think.",
    "See you next time!",
    "Stay curious.",
]
RULE_HEADERS = ["Follow these rules:", "Your response must follow every instruction below:", "Requirements:"]
CONTENT_TYPES = {"min_words", "include_keywords", "keyword_frequency", "bullet_count", "paragraph_count"}
TYPE_WEIGHTS = {
    "min_words": 3,
    "max_words": 2,
    "include_keywords": 3,
    "forbidden_words": 3,
    "keyword_frequency": 2,
    "bullet_count": 2,
    "lowercase": 2,
    "uppercase": 1,
    "start_phrase": 2,
    "end_phrase": 2,
    "paragraph_count": 2,
    "no_commas": 2,
    "title": 2,
}
CONFLICTS = [
    {"lowercase", "uppercase"},
    {"bullet_count", "paragraph_count"},
    {"paragraph_count", "title"},
    {"start_phrase", "title"},
]


def cased(phrase: str, types: set[str]) -> str:
    """A phrase the case instruction allows."""
    if "lowercase" in types:
        return phrase.lower()
    if "uppercase" in types:
        return phrase.upper()
    return phrase


def draw_types(rng: random.Random) -> list[str]:
    """2-4 instruction types, pairwise compatible, at least one asking for content."""
    count = rng.choice([2, 2, 3, 3, 3, 4])
    names = list(TYPE_WEIGHTS)
    while True:
        chosen: list[str] = []
        while len(chosen) < count:
            kind = rng.choices(names, weights=[TYPE_WEIGHTS[n] for n in names])[0]
            if kind not in chosen and not any({kind, other} in CONFLICTS for other in chosen):
                chosen.append(kind)
        if CONTENT_TYPES & set(chosen):
            return chosen


def make_instructions(rng: random.Random, topic: tuple[str, list[str], list[str]]) -> list[dict[str, Any]]:
    _, keywords, obvious = topic
    types = draw_types(rng)
    kinds = set(types)
    pool = rng.sample(keywords, len(keywords))
    required = pool[: rng.randint(1, 3)] if "include_keywords" in kinds else []
    frequent = pool[3] if "keyword_frequency" in kinds else None
    start = cased(rng.choice(START_PHRASES), kinds)
    end = cased(rng.choice(END_PHRASES), kinds)
    needed = {
        word.lower()
        for phrase in (start if "start_phrase" in kinds else "", end if "end_phrase" in kinds else "")
        for word in checks.words(phrase)
    }
    forbid_pool = [w for w in [*obvious, *GENERIC_FORBIDDEN] if w not in needed]
    forbidden = sorted(rng.sample(forbid_pool, rng.randint(1, 2)), key=forbid_pool.index)
    bullets = rng.randint(2, 6)
    paragraphs = rng.randint(2, 5)
    low = rng.choice([50, 80, 100, 120, 150, 200, 250, 300])
    # The most words the other instructions leave room for: bullets and paragraphs need some words each.
    floor = max(
        40,
        12 * bullets * ("bullet_count" in kinds),
        25 * paragraphs * ("paragraph_count" in kinds),
        low + 50 if "min_words" in kinds else 0,
    )
    high = rng.choice([n for n in (40, 60, 80, 100, 120, 150, 200, 300, 400) if n >= floor] or [floor])
    parameters: dict[str, dict[str, Any]] = {
        "min_words": {"n": low},
        "max_words": {"n": high},
        "include_keywords": {"keywords": required},
        "forbidden_words": {"words": forbidden},
        "keyword_frequency": {"keyword": frequent, "n": rng.randint(2, 4)},
        "bullet_count": {"n": bullets},
        "start_phrase": {"phrase": start},
        "end_phrase": {"phrase": end},
        "paragraph_count": {"n": paragraphs},
    }
    return [{"type": kind, **parameters.get(kind, {})} for kind in types]


def prompt(task: str, instructions: list[dict[str, Any]], header: str) -> str:
    rules = "\n".join(f"{number}. {checks.describe(i)}" for number, i in enumerate(instructions, 1))
    return f"{task}\n\n{header}\n{rules}"


def row(row_id: str, task: str, topic: str, instructions: list[dict[str, Any]], header: str) -> dict[str, Any]:
    return {
        "responses_create_params": {
            "input": [{"role": "user", "content": prompt(task, instructions, header)}],
            "tools": [],
        },
        "id": row_id,
        "topic": topic,
        "instructions": instructions,
    }


def split_rows(seed: int, sizes: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """Rows for each split, drawn from one stream, so no prompt is in two splits."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: dict[str, list[dict[str, Any]]] = {}
    for split, size in sizes.items():
        rows: list[dict[str, Any]] = []
        while len(rows) < size:
            topic = rng.choice(TOPICS)
            task = rng.choice(FORMS).format(topic[0])
            candidate = row(
                f"{split}-{len(rows):04d}", task, topic[0], make_instructions(rng, topic), rng.choice(RULE_HEADERS)
            )
            text = candidate["responses_create_params"]["input"][0]["content"]
            if text not in seen:
                seen.add(text)
                rows.append(candidate)
        out[split] = rows
    return out


# ------------------------------------------------------------------------------------------ example rows
# (task, topic, instructions, what the scripted model does, and the reward it earns: see the README)
EXAMPLES: list[tuple[str, str, list[dict[str, Any]], list[dict[str, Any]], float]] = [
    (
        "Write a short note to a friend about cycling to work.",
        "cycling to work",
        [
            {"type": "lowercase"},
            {"type": "include_keywords", "keywords": ["helmet", "traffic"]},
            {"type": "max_words", "n": 60},
            {"type": "end_phrase", "phrase": "see you on the road."},
        ],
        [
            {
                "say": "hi sam! i started cycling to work last month. the traffic is calmer than i feared and my "
                "helmet finally fits. i arrive awake and happy. you should try it too. see you on the road."
            }
        ],
        1.0,
    ),
    (
        "Write practical advice for a beginner about baking bread at home.",
        "baking bread at home",
        [{"type": "bullet_count", "n": 3}, {"type": "no_commas"}, {"type": "forbidden_words", "words": ["easy"]}],
        [
            {
                "say": "Three tips for your first loaf:\n* Weigh the flour instead of using cups.\n- Let the dough "
                "rise somewhere warm until it doubles.\n* Bake until the crust sounds hollow when tapped."
            }
        ],
        1.0,
    ),
    (
        "Write a short speech for a community meeting about protecting coral reefs.",
        "protecting coral reefs",
        [{"type": "uppercase"}, {"type": "min_words", "n": 30}, {"type": "title"}],
        [
            {
                "say": "<<SAVE OUR REEFS>>\nFRIENDS AND NEIGHBOURS, THE REEFS OFF OUR COAST ARE BLEACHING AS THE OCEAN "
                "WARMS. EVERY BOAT THAT ANCHORS WITH CARE AND EVERY DIVER WHO LOOKS BUT DOES NOT TOUCH HELPS THE "
                "FISH AND THE CORAL RECOVER. LET US ACT TOGETHER NOW."
            }
        ],
        1.0,
    ),
    (
        "Write a letter to a friend about starting a vegetable garden.",
        "starting a vegetable garden",
        [
            {"type": "start_phrase", "phrase": "Dear reader"},
            {"type": "paragraph_count", "n": 2},
            {"type": "keyword_frequency", "keyword": "soil", "n": 2},
        ],
        [
            {
                "think": "Two paragraphs with a blank line between them; say soil twice.",
                "say": "Dear reader, this spring I finally dug a small vegetable bed behind the house.\n\nThe soil was "
                "heavy clay, so I mixed in compost until the soil crumbled in my hand. The tomatoes love it.",
            }
        ],
        1.0,
    ),
    (
        "Write a short essay on why public libraries matter.",
        "why public libraries matter",
        [{"type": "min_words", "n": 50}, {"type": "include_keywords", "keywords": ["library"]}, {"type": "no_commas"}],
        [{"say": "Libraries are nice, I guess."}],
        0.0,
    ),
]


def example_rows() -> list[dict[str, Any]]:
    rows = []
    for index, (task, topic, instructions, turns, _) in enumerate(EXAMPLES):
        example = row(f"example-{index}", task, topic, instructions, RULE_HEADERS[index % len(RULE_HEADERS)])
        script = json.dumps(turns, separators=(",", ":"))
        assert len(script) <= SCRIPT_LIMIT, f"example {index}: its script is {len(script)} characters"
        example["responses_create_params"]["metadata"] = {"gymbox_script": script}
        rows.append(example)
    return rows


# ------------------------------------------------------------------------------------------ files


def render(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(", ", ": ")) + "\n" for r in rows)


def generate(out: Path) -> list[Path]:
    splits = {"example": example_rows(), **split_rows(SEED, {"train": TRAIN_SIZE, "validation": VALIDATION_SIZE})}
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for split, rows in splits.items():
        path = out / f"{split}.jsonl"
        path.write_text(render(rows), encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="where to write")
    for path in generate(parser.parse_args().out):
        print(f"wrote {path}")  # noqa: T201 - a script's report


if __name__ == "__main__":
    main()
