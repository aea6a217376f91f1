"""Generate structured_outputs' datasets: JSON Schema tasks, each with a valid instance built beside it.

    python environments/structured_outputs/data/generate.py            # rewrite the files beside this script
    python environments/structured_outputs/data/generate.py --out DIR  # write them into DIR instead

Deterministic (seeded `random.Random`, stdlib only): the output is byte for byte what is committed, and a
test checks that. Each schema is drawn from a catalogue of domains (a library book, a flight, a server
config, ...): some of the domain's fields, each with randomised constraints (lengths, patterns, enums,
numeric ranges, multipleOf, formats, nullable types, arrays with minItems/maxItems/uniqueItems, nested
objects, arrays of objects, $defs/$ref, anyOf, const, dependentRequired, additionalProperties: false).
The generator builds an instance that satisfies every constraint together with the schema (the row's
`reference_answer`), so every task is satisfiable; the verifier never reads it.

Rows: `example.jsonl` (5, with scripts for gymbox's scripted test model), `train.jsonl` and
`validation.jsonl` (no scripts; their prompts are disjoint).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import string
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

SEED = 20250611
TRAIN_SIZE = 1000
VALIDATION_SIZE = 200
SCRIPT_LIMIT = 512  # a metadata value's limit: an example row's script must fit
DRAFT = "https://json-schema.org/draft/2020-12/schema"

# ------------------------------------------------------------------------------------------ the catalogue
# A field is (name, kind, argument). Kinds: text (sample), code (prefix, or a tuple of pattern parts),
# choice / choices (values), int / num ((low, high)), flag, date, email, uuid, ipv4, phone, reach,
# tags (sample words), object / objects (a SUBOBJECTS key).

SUBOBJECTS: dict[str, list[tuple[str, str, Any]]] = {
    "person": [
        ("first_name", "text", "Ada"),
        ("last_name", "text", "Moreau"),
        ("email", "email", None),
        ("birth_year", "int", (1920, 2010)),
    ],
    "address": [
        ("street", "text", "12 Harbour Lane"),
        ("city", "text", "Lisbon"),
        ("postal_code", "code", ""),
        ("country", "choice", ["PT", "FR", "DE", "ES", "IT", "NL", "IE", "SE"]),
    ],
    "geo": [("latitude", "num", (-90, 90)), ("longitude", "num", (-180, 180)), ("elevation_m", "int", (-400, 8848))],
    "money": [("amount", "num", (0, 100000)), ("currency", "choice", ["USD", "EUR", "GBP", "JPY", "CHF", "CAD"])],
    "contact": [("name", "text", "Sam Okafor"), ("email", "email", None), ("phone", "phone", None)],
    "line_item": [("sku", "code", "SKU"), ("quantity", "int", (1, 100)), ("unit_price", "num", (0, 5000))],
    "copy": [
        ("barcode", "code", "BC"),
        ("condition", "choice", ["new", "good", "worn", "damaged"]),
        ("on_loan", "flag", None),
    ],
    "ingredient": [
        ("name", "text", "flour"),
        ("quantity", "num", (0, 1000)),
        ("unit", "choice", ["g", "kg", "ml", "l", "cup", "tbsp", "tsp", "piece"]),
    ],
    "passenger": [
        ("name", "text", "Lena Berg"),
        ("seat", "code", (("digit", 2), ("set", "ABCDEF", 1))),
        ("checked_bags", "int", (0, 4)),
    ],
    "dimensions": [("width_cm", "num", (1, 500)), ("height_cm", "num", (1, 500)), ("depth_cm", "num", (1, 500))],
    "ticket": [
        ("tier", "choice", ["standard", "premium", "vip", "student"]),
        ("price", "num", (0, 900)),
        ("remaining", "int", (0, 5000)),
    ],
    "course": [
        ("code", "code", "CS"),
        ("title", "text", "Linear Algebra"),
        ("credits", "int", (1, 10)),
        ("grade", "choice", ["A", "B", "C", "D", "F"]),
    ],
    "resources": [("cpu_cores", "int", (1, 128)), ("memory_gb", "int", (1, 1024)), ("gpu", "flag", None)],
    "pet": [
        ("name", "text", "Biscuit"),
        ("species", "choice", ["dog", "cat", "rabbit", "parrot", "ferret"]),
        ("age_years", "int", (0, 30)),
        ("microchip", "code", (("digit", 15),)),
    ],
    "cast_member": [("actor", "text", "Mira Sol"), ("role", "text", "the lighthouse keeper"), ("lead", "flag", None)],
    "comment": [("author", "text", "jdoe"), ("posted_on", "date", None), ("body", "text", "Still failing on v2.")],
    "score": [("home", "int", (0, 20)), ("away", "int", (0, 20))],
    "wind": [("speed_kmh", "num", (0, 300)), ("direction", "choice", ["N", "NE", "E", "SE", "S", "SW", "W", "NW"])],
    "service": [
        ("date", "date", None),
        ("mileage_km", "int", (0, 500000)),
        ("work", "tags", ["oil change", "brakes", "tyres", "battery"]),
    ],
}

DOMAINS: list[dict[str, Any]] = [
    {
        "what": "a library catalogue record for {}",
        "title": "Book",
        "flavors": [
            "a poetry collection",
            "a travel guide to Portugal",
            "a children's picture book",
            "a history of the printing press",
            "a science-fiction novel",
            "a cookbook of winter soups",
        ],
        "fields": [
            ("title", "text", "The Quiet Harbor"),
            ("isbn", "code", (("lit", "978-"), ("digit", 10))),
            ("author", "object", "person"),
            ("pages", "int", (24, 1200)),
            ("published", "date", None),
            ("genres", "choices", ["fiction", "history", "science", "poetry", "biography", "travel", "cooking"]),
            ("available", "flag", None),
            ("rating", "num", (0, 5)),
            ("language", "choice", ["en", "fr", "de", "es", "it", "pt"]),
            ("copies", "objects", "copy"),
            ("keywords", "tags", ["harbor", "memory", "sea", "family"]),
        ],
    },
    {
        "what": "an HR record of {}",
        "title": "Employee",
        "flavors": [
            "a night-shift nurse",
            "a junior software engineer",
            "a warehouse supervisor",
            "a part-time librarian",
            "a regional sales director",
            "a museum conservator",
        ],
        "fields": [
            ("employee_id", "code", "EMP"),
            ("full_name", "text", "Priya Natarajan"),
            ("email", "email", None),
            ("department", "choice", ["engineering", "sales", "finance", "operations", "care", "legal"]),
            ("hire_date", "date", None),
            ("salary", "num", (20000, 250000)),
            ("remote", "flag", None),
            ("weekly_hours", "int", (5, 60)),
            ("skills", "tags", ["scheduling", "python", "triage", "audit"]),
            ("office", "object", "address"),
            ("emergency_contact", "object", "contact"),
            ("preferred_contact", "reach", None),
        ],
    },
    {
        "what": "an online shop order for {}",
        "title": "Order",
        "flavors": [
            "three paperback books",
            "a pair of running shoes",
            "a week of groceries",
            "a replacement laptop battery",
            "garden furniture",
            "a birthday cake and candles",
        ],
        "fields": [
            ("order_id", "code", "ORD"),
            ("placed_on", "date", None),
            ("tracking_id", "uuid", None),
            ("status", "choice", ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"]),
            ("gift", "flag", None),
            ("customer", "object", "person"),
            ("items", "objects", "line_item"),
            ("total", "object", "money"),
            ("shipping_address", "object", "address"),
            ("coupon", "text", "SPRING10"),
            ("item_count", "int", (1, 50)),
        ],
    },
    {
        "what": "a weather station reading from {}",
        "title": "WeatherReading",
        "flavors": [
            "a mountain pass in the Alps",
            "a harbour in Reykjavik",
            "a rooftop in Singapore",
            "a farm in Iowa",
            "a research base in Antarctica",
            "a vineyard near Mendoza",
        ],
        "fields": [
            ("station_id", "code", "WX"),
            ("recorded_on", "date", None),
            ("temperature_c", "num", (-60, 55)),
            ("humidity_pct", "int", (0, 100)),
            ("conditions", "choice", ["clear", "cloudy", "rain", "snow", "fog", "storm"]),
            ("sensor_ip", "ipv4", None),
            ("calibrated", "flag", None),
            ("location", "object", "geo"),
            ("wind", "object", "wind"),
            ("alerts", "tags", ["frost", "gale", "flood", "heat"]),
        ],
    },
    {
        "what": "a recipe card for {}",
        "title": "Recipe",
        "flavors": [
            "a lentil soup",
            "a lemon tart",
            "a mushroom risotto",
            "a Thai green curry",
            "banana bread",
            "a summer salad",
        ],
        "fields": [
            ("name", "text", "Lentil soup"),
            ("servings", "int", (1, 12)),
            ("prep_minutes", "int", (1, 240)),
            ("difficulty", "choice", ["easy", "medium", "hard"]),
            ("vegetarian", "flag", None),
            ("calories_per_serving", "int", (50, 2000)),
            ("cuisine", "choice", ["italian", "thai", "french", "mexican", "indian", "japanese", "british"]),
            ("ingredients", "objects", "ingredient"),
            ("steps", "tags", ["chop", "simmer", "season", "serve"]),
            ("rating", "num", (0, 5)),
        ],
    },
    {
        "what": "a flight booking for {}",
        "title": "Flight",
        "flavors": [
            "a family of four going to Lisbon",
            "a business trip to Tokyo",
            "a student flying home",
            "a connecting flight through Dubai",
            "a weekend in Rome",
            "a conference in Montreal",
        ],
        "fields": [
            ("flight_number", "code", (("upper", 2), ("digit", 4))),
            ("origin", "code", (("upper", 3),)),
            ("destination", "code", (("upper", 3),)),
            ("departure_date", "date", None),
            ("duration_minutes", "int", (30, 1200)),
            ("cabin", "choice", ["economy", "premium_economy", "business", "first"]),
            ("status", "choice", ["scheduled", "boarding", "delayed", "departed", "cancelled"]),
            ("passengers", "objects", "passenger"),
            ("fare", "object", "money"),
            ("refundable", "flag", None),
        ],
    },
    {
        "what": "a product listing for {}",
        "title": "Product",
        "flavors": [
            "a cast-iron skillet",
            "noise-cancelling headphones",
            "a wool winter coat",
            "a standing desk",
            "a children's bicycle",
            "a ceramic teapot",
        ],
        "fields": [
            ("sku", "code", "PRD"),
            ("name", "text", "Cast-iron skillet"),
            ("in_stock", "flag", None),
            ("price", "object", "money"),
            ("dimensions", "object", "dimensions"),
            ("weight_kg", "num", (0, 80)),
            ("categories", "choices", ["kitchen", "audio", "clothing", "furniture", "sports", "toys", "garden"]),
            ("colors", "choices", ["black", "white", "red", "blue", "green", "grey"]),
            ("rating", "num", (0, 5)),
            ("release_date", "date", None),
            ("supplier_email", "email", None),
        ],
    },
    {
        "what": "an event listing for {}",
        "title": "Event",
        "flavors": [
            "a jazz concert",
            "a chess tournament",
            "a farmers' market",
            "a coding workshop",
            "a charity fun run",
            "a poetry reading",
        ],
        "fields": [
            ("event_id", "uuid", None),
            ("title", "text", "Jazz on the Pier"),
            ("date", "date", None),
            ("capacity", "int", (10, 80000)),
            ("online", "flag", None),
            ("age_limit", "int", (0, 21)),
            ("venue", "object", "address"),
            ("organizer", "object", "contact"),
            ("tickets", "objects", "ticket"),
            ("tags", "tags", ["music", "outdoor", "family", "free"]),
        ],
    },
    {
        "what": "a school record for {}",
        "title": "Student",
        "flavors": [
            "a first-year physics student",
            "an exchange student from Kenya",
            "a part-time evening student",
            "a final-year history student",
            "a student athlete",
            "a mature student returning to study",
        ],
        "fields": [
            ("student_id", "code", "STU"),
            ("name", "object", "person"),
            ("year", "int", (1, 6)),
            ("enrolled_on", "date", None),
            ("gpa", "num", (0, 4)),
            ("email", "email", None),
            ("scholarship", "flag", None),
            ("courses", "objects", "course"),
            ("clubs", "tags", ["chess", "rowing", "debate", "choir"]),
            ("status", "choice", ["active", "on_leave", "graduated", "withdrawn"]),
        ],
    },
    {
        "what": "a deployment config for {}",
        "title": "ServiceConfig",
        "flavors": [
            "a payment API",
            "a search index",
            "a nightly backup job",
            "a chat service",
            "an image resizer",
            "a metrics collector",
        ],
        "fields": [
            ("service", "text", "payments-api"),
            ("host_ip", "ipv4", None),
            ("port", "int", (1, 65535)),
            ("environment", "choice", ["dev", "staging", "prod"]),
            ("replicas", "int", (1, 64)),
            ("tls", "flag", None),
            ("owner_email", "email", None),
            ("instance_id", "uuid", None),
            ("limits", "object", "resources"),
            ("labels", "tags", ["team-core", "tier-1", "public", "batch"]),
            ("deployed_on", "date", None),
        ],
    },
    {
        "what": "a veterinary appointment for {}",
        "title": "VetAppointment",
        "flavors": [
            "a limping greyhound",
            "a cat due for vaccines",
            "a rabbit that stopped eating",
            "a parrot with dull feathers",
            "a puppy's first check-up",
            "an old ferret",
        ],
        "fields": [
            ("appointment_id", "code", "VET"),
            ("date", "date", None),
            ("pet", "object", "pet"),
            ("owner", "object", "contact"),
            ("reason", "text", "annual check-up"),
            ("weight_kg", "num", (0, 90)),
            ("vaccinations", "choices", ["rabies", "distemper", "parvovirus", "leptospirosis", "calicivirus"]),
            ("follow_up", "flag", None),
            ("fee", "object", "money"),
        ],
    },
    {
        "what": "a film database entry for {}",
        "title": "Movie",
        "flavors": [
            "a silent comedy",
            "a nature documentary",
            "an animated musical",
            "a courtroom drama",
            "a space thriller",
            "a romantic comedy set in Paris",
        ],
        "fields": [
            ("title", "text", "The Lighthouse Keeper"),
            ("imdb_id", "code", (("lit", "tt"), ("digit", 7))),
            ("release_date", "date", None),
            ("runtime_minutes", "int", (60, 240)),
            ("genres", "choices", ["comedy", "drama", "documentary", "animation", "thriller", "romance"]),
            ("age_rating", "choice", ["G", "PG", "PG-13", "R", "NC-17"]),
            ("director", "object", "person"),
            ("cast", "objects", "cast_member"),
            ("box_office", "object", "money"),
            ("streaming", "flag", None),
        ],
    },
    {
        "what": "a bank transaction for {}",
        "title": "Transaction",
        "flavors": [
            "a monthly rent payment",
            "a coffee shop purchase",
            "a salary deposit",
            "an ATM withdrawal abroad",
            "a refund from an airline",
            "a transfer to a savings account",
        ],
        "fields": [
            ("transaction_id", "uuid", None),
            ("date", "date", None),
            ("amount", "object", "money"),
            ("kind", "choice", ["deposit", "withdrawal", "transfer", "payment", "fee", "refund"]),
            ("account", "code", (("upper", 2), ("digit", 2), ("alnum", 12))),
            ("counterparty", "text", "Harbour Cafe"),
            ("pending", "flag", None),
            ("category", "choice", ["housing", "food", "income", "travel", "savings", "other"]),
            ("note", "text", "March rent"),
        ],
    },
    {
        "what": "a real-estate listing for {}",
        "title": "Listing",
        "flavors": [
            "a studio flat by the river",
            "a farmhouse with a barn",
            "a family house near a school",
            "a penthouse with a terrace",
            "a cottage by the sea",
            "a loft above a bakery",
        ],
        "fields": [
            ("listing_id", "code", "LST"),
            ("address", "object", "address"),
            ("price", "object", "money"),
            ("bedrooms", "int", (0, 10)),
            ("area_m2", "num", (10, 2000)),
            ("for_rent", "flag", None),
            ("listed_on", "date", None),
            ("energy_class", "choice", ["A", "B", "C", "D", "E", "F", "G"]),
            ("features", "tags", ["garden", "balcony", "parking", "lift"]),
            ("agent", "object", "contact"),
        ],
    },
    {
        "what": "a customer support ticket about {}",
        "title": "SupportTicket",
        "flavors": [
            "a login that keeps failing",
            "a double charge on a card",
            "a parcel that never arrived",
            "a broken kettle",
            "an app that crashes on start",
            "a missing invoice",
        ],
        "fields": [
            ("ticket_id", "code", "TCK"),
            ("subject", "text", "Cannot log in"),
            ("priority", "choice", ["low", "normal", "high", "urgent"]),
            ("opened_on", "date", None),
            ("reporter", "object", "contact"),
            ("resolved", "flag", None),
            ("assignee_email", "email", None),
            ("comments", "objects", "comment"),
            ("labels", "tags", ["billing", "login", "shipping", "mobile"]),
            ("preferred_contact", "reach", None),
        ],
    },
    {
        "what": "a match report for {}",
        "title": "Match",
        "flavors": [
            "a cup final",
            "a local derby",
            "a rain-delayed league game",
            "a friendly between rivals",
            "a youth championship final",
            "a season opener",
        ],
        "fields": [
            ("match_id", "uuid", None),
            ("date", "date", None),
            ("home_team", "text", "Harbour Rovers"),
            ("away_team", "text", "Hill City"),
            ("score", "object", "score"),
            ("attendance", "int", (0, 100000)),
            ("competition", "choice", ["league", "cup", "friendly", "playoff"]),
            ("extra_time", "flag", None),
            ("venue", "object", "address"),
            ("scorers", "tags", ["Diaz", "Kowalski", "Mensah", "Ito"]),
        ],
    },
    {
        "what": "a vehicle record for {}",
        "title": "Vehicle",
        "flavors": [
            "a 1960s roadster",
            "a delivery van",
            "a family electric hatchback",
            "a rental pickup truck",
            "a taxi with high mileage",
            "a vintage motorcycle",
        ],
        "fields": [
            ("vin", "code", (("set", "ABCDEFGHJKLMNPRSTUVWXYZ0123456789", 17),)),
            ("make", "choice", ["Volvo", "Toyota", "Ford", "Renault", "Kia", "Fiat"]),
            ("model", "text", "Roadster"),
            ("year", "int", (1950, 2025)),
            ("mileage_km", "int", (0, 900000)),
            ("electric", "flag", None),
            ("color", "choice", ["black", "white", "red", "blue", "silver"]),
            ("owner", "object", "person"),
            ("service_history", "objects", "service"),
        ],
    },
    {
        "what": "a museum catalogue entry for {}",
        "title": "Artwork",
        "flavors": [
            "a Dutch still life",
            "a bronze horse statue",
            "a Japanese woodblock print",
            "a medieval tapestry",
            "an abstract oil painting",
            "a Roman mosaic fragment",
        ],
        "fields": [
            ("accession_number", "code", (("digit", 4), ("lit", "."), ("digit", 3))),
            ("title", "text", "Still Life with Lemons"),
            ("artist", "object", "person"),
            ("year", "int", (-500, 2024)),
            ("medium", "choice", ["oil", "bronze", "woodblock", "wool", "stone"]),
            ("dimensions", "object", "dimensions"),
            ("on_display", "flag", None),
            ("acquired_on", "date", None),
            ("provenance", "tags", ["private collection", "auction", "bequest", "excavation"]),
        ],
    },
]

SCALAR_KINDS = {"text", "code", "choice", "int", "num", "flag", "date", "email", "uuid", "ipv4", "phone", "reach"}
ARRAY_KINDS = {"choices", "tags"}
TIERS: dict[str, dict[str, Any]] = {  # fields at the top level, and which kinds
    "easy": {"fields": (3, 4), "kinds": SCALAR_KINDS},
    "medium": {"fields": (4, 6), "kinds": SCALAR_KINDS | ARRAY_KINDS | {"object"}},
    "hard": {"fields": (6, 8), "kinds": SCALAR_KINDS | ARRAY_KINDS | {"object", "objects"}},
}
TIER_WEIGHTS = (("easy", 3), ("medium", 4), ("hard", 3))
FORMAT_HINTS = {
    "date": "date = YYYY-MM-DD",
    "email": "email = has an @",
    "uuid": "uuid = 8-4-4-4-12 hex digits",
    "ipv4": "ipv4 = four numbers 0-255 with dots",
}
PATTERN_CLASSES = {"upper": "[A-Z]", "lower": "[a-z]", "digit": "[0-9]", "alnum": "[A-Z0-9]"}
POOLS = {
    "upper": string.ascii_uppercase,
    "lower": string.ascii_lowercase,
    "digit": string.digits,
    "alnum": string.ascii_uppercase + string.digits,
}

PROMPTS = [
    "Produce a JSON object describing {task}. It must validate against this JSON Schema (Draft 2020-12):\n\n"
    "```json\n{schema}\n```\n\n{formats}Answer with the JSON object only: no explanation before or after it. "
    "A single ```json code block is also accepted.",
    "I need {task} as JSON. The object has to satisfy the following JSON Schema (draft 2020-12):\n\n"
    "```json\n{schema}\n```\n\n{formats}Reply with nothing but the JSON object (you may wrap it in one "
    "```json code block).",
    "Fill in a realistic, made-up example of {task}.\n\nJSON Schema (Draft 2020-12) it must conform to:\n\n"
    "```json\n{schema}\n```\n\n{formats}Output only the JSON object, with no other text. A ```json fence around "
    "it is fine.",
]


# ------------------------------------------------------------------------------------------ fields
# Each builder returns (schema, make): `make(rng)` draws a fresh instance that satisfies `schema`, so an array
# of objects, or a sub-object shared through $defs, gets as many valid instances as it needs.

Make = Callable[[random.Random], Any]


def pattern_field(parts: tuple[tuple[Any, ...], ...]) -> tuple[dict[str, Any], Make]:
    """A string with a `pattern` made of parts: ("lit", text), (class, count) or ("set", chars, count)."""
    regex = ""
    for part in parts:
        if part[0] == "lit":
            regex += "".join("\\" + c if c in ".+()[]{}^$*?|\\" else c for c in part[1])
        elif part[0] == "set":
            regex += f"[{part[1]}]{{{part[2]}}}"
        else:
            regex += f"{PATTERN_CLASSES[part[0]]}{{{part[1]}}}"

    def make(rng: random.Random) -> str:
        pieces = [
            part[1]
            if part[0] == "lit"
            else "".join(rng.choice(part[1] if part[0] == "set" else POOLS[part[0]]) for _ in range(part[-1]))
            for part in parts
        ]
        return "".join(pieces)

    return {"type": "string", "pattern": f"^{regex}$"}, make


def code_parts(rng: random.Random, prefix: str) -> tuple[tuple[Any, ...], ...]:
    """A random identifier shape: PREFIX-1234, PREFIX-AB1234, AB-12345, ..."""
    lead: tuple[tuple[Any, ...], ...] = (
        (("lit", f"{prefix}-"),) if prefix else (("upper", rng.randint(1, 3)), ("lit", "-"))
    )
    letters: tuple[tuple[Any, ...], ...] = (("upper", rng.randint(1, 2)),) if rng.random() < 0.3 else ()
    return (*lead, *letters, ("digit", rng.randint(3, 6)))


def text_field(rng: random.Random, sample: str) -> tuple[dict[str, Any], Make]:
    schema: dict[str, Any] = {"type": "string"}
    if rng.random() < 0.7:
        schema["minLength"] = rng.choice([1, 1, 2, 3])
    if rng.random() < 0.5:
        schema["maxLength"] = len(sample) + rng.randint(5, 60)
    if rng.random() < 0.12:
        schema["type"] = ["string", "null"]
        return schema, lambda r: None if r.random() < 0.5 else sample
    return schema, lambda r: sample


def int_field(rng: random.Random, low: int, high: int) -> tuple[dict[str, Any], Make]:
    schema: dict[str, Any] = {"type": "integer"}
    bounds = rng.choice(["both", "both", "min", "max"])
    if bounds != "max":
        schema["minimum"] = low
    if bounds != "min":
        schema["maximum"] = high
    step = rng.choice([s for s in (2, 5, 10) if high - low >= 4 * s] or [1])
    if step > 1 and rng.random() < 0.2:
        schema["multipleOf"] = step
        return schema, lambda r: math.ceil(r.randint(low, high - step) / step) * step
    return schema, lambda r: r.randint(low, high)


def num_field(rng: random.Random, low: int, high: int) -> tuple[dict[str, Any], Make]:
    schema: dict[str, Any] = {"type": "number"}
    bounds = rng.choice(["both", "both", "min", "max"])
    if bounds != "max":
        schema["exclusiveMinimum" if rng.random() < 0.3 else "minimum"] = low
    if bounds != "min":
        schema["exclusiveMaximum" if rng.random() < 0.3 else "maximum"] = high
    if high - low >= 4 and rng.random() < 0.15:
        schema["multipleOf"] = 0.5
        return schema, lambda r: r.randint(2 * low + 1, 2 * high - 1) / 2
    return schema, lambda r: min(max(round(r.uniform(low, high), 2), low + 0.01), high - 0.01)


def date(rng: random.Random) -> str:
    return f"{rng.randint(1990, 2029):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def email(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 8))) + "@example.com"


FORMATS: dict[str, Make] = {
    "date": date,
    "email": email,
    "uuid": lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
    "ipv4": lambda r: ".".join(str(r.randint(1, 254)) for _ in range(4)),
}


def scalar_field(rng: random.Random, kind: str, arg: Any) -> tuple[dict[str, Any], Make]:
    if kind == "text":
        return text_field(rng, arg)
    if kind == "code":
        return pattern_field(arg if isinstance(arg, tuple) else code_parts(rng, arg))
    if kind == "phone":
        return pattern_field((("lit", "+"), ("digit", rng.randint(9, 12))))
    if kind == "choice":
        values = sorted(rng.sample(arg, rng.randint(3, len(arg))), key=arg.index)
        return {"type": "string", "enum": values}, lambda r: r.choice(values)
    if kind == "int":
        return int_field(rng, *arg)
    if kind == "num":
        return num_field(rng, *arg)
    if kind == "flag":
        return {"type": "boolean"}, lambda r: r.random() < 0.5
    if kind in FORMATS:
        return {"type": "string", "format": kind}, FORMATS[kind]
    if kind == "reach":  # an email or a phone number
        phone, _ = scalar_field(rng, "phone", None)
        return {"anyOf": [{"type": "string", "format": "email"}, phone]}, email
    raise ValueError(f"unknown kind {kind!r}")


def array_field(rng: random.Random, kind: str, arg: Any) -> tuple[dict[str, Any], Make]:
    if kind == "choices":
        values = sorted(rng.sample(arg, rng.randint(3, len(arg))), key=arg.index)
        least = rng.randint(1, 2)
        schema = {"type": "array", "items": {"type": "string", "enum": values}, "minItems": least, "uniqueItems": True}
        if rng.random() < 0.5:
            schema["maxItems"] = rng.randint(least, len(values))
        return schema, lambda r: r.sample(values, least)
    least = rng.randint(1, 3)
    schema = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": least}
    if rng.random() < 0.5:
        schema["maxItems"] = least + rng.randint(0, 4)
    if rng.random() < 0.5:
        schema["uniqueItems"] = True
    return schema, lambda r: r.sample(arg, least)


def object_schema(
    rng: random.Random, fields: list[tuple[str, str, Any]], defs: dict[str, tuple[dict[str, Any], Make]] | None
) -> tuple[dict[str, Any], Make]:
    """An object of `fields` (all of them in each instance) with random `required` and `additionalProperties`."""
    properties: dict[str, Any] = {}
    makers: dict[str, Make] = {}
    for name, kind, arg in fields:
        properties[name], makers[name] = field(rng, kind, arg, defs)
    names = list(properties)
    required = names if rng.random() < 0.4 else sorted(rng.sample(names, rng.randint(1, len(names))), key=names.index)
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if rng.random() < 0.6:
        schema["additionalProperties"] = False
    return schema, lambda r: {name: make(r) for name, make in makers.items()}


def field(
    rng: random.Random, kind: str, arg: Any, defs: dict[str, tuple[dict[str, Any], Make]] | None
) -> tuple[dict[str, Any], Make]:
    if kind in SCALAR_KINDS:
        return scalar_field(rng, kind, arg)
    if kind in ARRAY_KINDS:
        return array_field(rng, kind, arg)
    if defs is None:
        schema, make = object_schema(rng, SUBOBJECTS[arg], None)
    else:  # hard schemas name their sub-objects in $defs and point at them
        name = arg.title().replace("_", "")
        if name not in defs:
            defs[name] = object_schema(rng, SUBOBJECTS[arg], None)
        schema, make = {"$ref": f"#/$defs/{name}"}, defs[name][1]
    if kind == "object":
        return schema, make
    least = rng.randint(1, 2)
    array: dict[str, Any] = {"type": "array", "items": schema, "minItems": least}
    if rng.random() < 0.4:
        array["maxItems"] = least + rng.randint(1, 4)
    return array, lambda r: [make(r) for _ in range(least)]


# ------------------------------------------------------------------------------------------ tasks


def make_task(rng: random.Random, tier: str) -> dict[str, Any]:
    """One task: the schema, the object described in words, and an instance that validates."""
    domain = rng.choice(DOMAINS)
    spec = TIERS[tier]
    pool = [f for f in domain["fields"] if f[1] in spec["kinds"]]
    count = min(rng.randint(*spec["fields"]), len(pool))
    chosen = sorted(rng.sample(pool, count), key=pool.index)
    defs: dict[str, tuple[dict[str, Any], Make]] | None = {} if tier == "hard" and rng.random() < 0.4 else None
    schema, make = object_schema(rng, chosen, defs)
    witness = make(rng)
    if rng.random() < 0.2:
        version = rng.choice(["1.0", "2.1", 1, 3])
        schema["properties"] = {"schema_version": {"const": version}, **schema["properties"]}
        schema["required"] = ["schema_version", *schema["required"]]
        witness = {"schema_version": version, **witness}
    optional = [name for name in schema["properties"] if name not in schema["required"]]
    if len(optional) >= 2 and rng.random() < 0.25:
        first, second = rng.sample(optional, 2)
        schema["dependentRequired"] = {first: [second]}
    if tier != "easy" and rng.random() < 0.15:
        schema["minProperties"] = len(schema["required"]) + (1 if optional else 0)
    full = {"$schema": DRAFT, "title": domain["title"], **schema}
    if defs:
        full["$defs"] = {name: sub for name, (sub, _) in sorted(defs.items())}
    return {
        "task": domain["what"].format(rng.choice(domain["flavors"])),
        "schema": full,
        "witness": witness,
        "tier": tier,
    }


def features(schema: Any, root: bool = True) -> set[str]:
    """The constraint kinds a schema uses (for the rows' `features`, to slice rewards by)."""
    found: set[str] = set()
    if isinstance(schema, list):
        for item in schema:
            found |= features(item, False)
        return found
    if not isinstance(schema, dict):
        return found
    names = {
        "enum": "enum",
        "pattern": "pattern",
        "format": "format",
        "const": "const",
        "anyOf": "anyOf",
        "$ref": "ref",
        "multipleOf": "multipleOf",
        "uniqueItems": "uniqueItems",
        "minItems": "array_length",
        "maxItems": "array_length",
        "minLength": "string_length",
        "maxLength": "string_length",
        "minimum": "numeric_range",
        "maximum": "numeric_range",
        "exclusiveMinimum": "exclusive_bound",
        "exclusiveMaximum": "exclusive_bound",
        "additionalProperties": "closed_object",
        "dependentRequired": "dependentRequired",
        "minProperties": "minProperties",
    }
    found |= {names[key] for key in schema if key in names}
    if isinstance(schema.get("type"), list):
        found.add("nullable")
    if schema.get("type") == "object" and not root:
        found.add("nested_object")
    if (
        schema.get("type") == "array"
        and isinstance(schema.get("items"), dict)
        and (schema["items"].get("type") == "object" or "$ref" in schema["items"])
    ):
        found.add("array_of_objects")
    for key in ("properties", "$defs"):
        for sub in (schema.get(key) or {}).values():
            found |= features(sub, False)
    for key in ("items", "anyOf"):
        if key in schema:
            found |= features(schema[key], False)
    return found


def pretty(value: Any, level: int = 0) -> str:
    """JSON indented by 2, except that what fits on a line of 88 stays on one (short, and easy to read)."""
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, dict | list) or not value or len(flat) + 2 * level <= 88:
        return flat
    pad = "  " * (level + 1)
    if isinstance(value, dict):
        items = [
            f"{pad}{json.dumps(key, ensure_ascii=False)}: {pretty(item, level + 1)}" for key, item in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    return "[\n" + ",\n".join(pad + pretty(item, level + 1) for item in value) + "\n" + "  " * level + "]"


def formats_used(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        own = {schema["format"]} if isinstance(schema.get("format"), str) else set()
        return own.union(*(formats_used(value) for value in schema.values()))
    if isinstance(schema, list):
        return set().union(*(formats_used(item) for item in schema))
    return set()


def prompt(task: dict[str, Any], template: str) -> str:
    used = sorted(formats_used(task["schema"]))
    formats = f"String formats are checked ({'; '.join(FORMAT_HINTS[f] for f in used)}).\n\n" if used else ""
    return template.format(task=task["task"], schema=pretty(task["schema"]), formats=formats)


def row(task: dict[str, Any], row_id: str, template: str) -> dict[str, Any]:
    return {
        "responses_create_params": {"input": [{"role": "user", "content": prompt(task, template)}], "tools": []},
        "id": row_id,
        "task": task["task"],
        "schema": task["schema"],
        "difficulty": task["tier"],
        "features": sorted(features(task["schema"])),
        "reference_answer": task["witness"],
    }


def split_rows(seed: int, sizes: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """Rows for each split, drawn from one stream, so no prompt is in two splits."""
    rng = random.Random(seed)
    tiers = [tier for tier, weight in TIER_WEIGHTS for _ in range(weight)]
    seen: set[str] = set()
    out: dict[str, list[dict[str, Any]]] = {}
    for split, size in sizes.items():
        rows: list[dict[str, Any]] = []
        while len(rows) < size:
            candidate = row(make_task(rng, rng.choice(tiers)), f"{split}-{len(rows):04d}", rng.choice(PROMPTS))
            text = candidate["responses_create_params"]["input"][0]["content"]
            if text not in seen:
                seen.add(text)
                rows.append(candidate)
        out[split] = rows
    return out


# ------------------------------------------------------------------------------------------ example rows


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def broken(task: dict[str, Any]) -> dict[str, Any]:
    """The witness without its first required property: valid JSON that fails the schema."""
    missing = task["schema"]["required"][0]
    return {key: value for key, value in task["witness"].items() if key != missing}


# What each example row's scripted model answers, and the reward that earns (see the README).
EXAMPLE_SCRIPTS: list[tuple[str, Callable[[dict[str, Any]], list[dict[str, Any]]], float]] = [
    ("the object, bare", lambda t: [{"say": compact(t["witness"])}], 1.0),
    ("the object in a ```json fence", lambda t: [{"say": f"```json\n{compact(t['witness'])}\n```"}], 1.0),
    (
        "think, then the object with spaces around it",
        lambda t: [{"think": "Fill every required field within its limits.", "say": f"\n {compact(t['witness'])} \n"}],
        1.0,
    ),
    (
        "a <think> block left in the message, then the object",
        lambda t: [{"say": f"<think>Check the enums.</think>\n{compact(t['witness'])}"}],
        1.0,
    ),
    ("the object without its first required property: **invalid**", lambda t: [{"say": compact(broken(t))}], 0.0),
]


def example_rows(seed: int) -> list[dict[str, Any]]:
    """Five easy/medium tasks whose scripts fit a metadata value, one per script in EXAMPLE_SCRIPTS."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    while len(rows) < len(EXAMPLE_SCRIPTS):
        task = make_task(rng, ["easy", "medium"][len(rows) % 2])
        _, turns, _ = EXAMPLE_SCRIPTS[len(rows)]
        script = json.dumps(turns(task), separators=(",", ":"))
        if len(script) > SCRIPT_LIMIT:
            continue
        example = row(task, f"example-{len(rows)}", PROMPTS[len(rows) % len(PROMPTS)])
        example["responses_create_params"]["metadata"] = {"gymbox_script": script}
        rows.append(example)
    return rows


# ------------------------------------------------------------------------------------------ files


def render(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(", ", ": ")) + "\n" for r in rows)


def generate(out: Path) -> list[Path]:
    splits = {
        "example": example_rows(SEED + 1),
        **split_rows(SEED, {"train": TRAIN_SIZE, "validation": VALIDATION_SIZE}),
    }
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
