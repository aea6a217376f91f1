"""Generate code_exec's datasets: write-a-function tasks with hidden unit tests, from a catalogue of families.

    python environments/code_exec/data/generate.py            # rewrite the files beside this script
    python environments/code_exec/data/generate.py --out DIR  # write them into DIR instead

Deterministic (seeded `random.Random`, standard library only): the output is byte for byte what is
committed, and a test checks that. Tasks are in the style of HumanEval/MBPP. Each *family* (Caesar shift,
run-length encoding, balanced brackets, roman numerals, matrix transforms, merging intervals, two-sum,
base conversion, coin change, word wrap, ...) has a set of *variants* (a shift, a base, a window size, a
separator, a tie-break rule...), and each (family, variant) pair is one task, used once across all the
splits: no task is in two rows, and validation's tasks and prompts are disjoint from train's.

Each variant has a trusted reference solution, written here as Python source (the variant's constants,
then a function). The generator runs it in-process on random inputs drawn for the family: two calls
become the prompt's worked examples, 8 to 12 others the row's hidden `tests` (`{"args", "expected"}`,
JSON values; what the function returns goes through JSON, so tuples are lists). `reference_source(task)`
gives a row's reference; the environment's tests submit some of them through the real verifier.

Rows: `example.jsonl` (5, with scripts for gymbox's scripted test model: three right answers, the third
after trying its code with `run_python`, then one partly right and one wrong; the README lists them),
`train.jsonl` and `validation.jsonl` (no scripts).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED = 20250704
VALIDATION_EVERY = 5  # one task in five goes to validation, spread over the families
SCRIPT_LIMIT = 512  # a metadata value's limit: an example row's script must fit
MAX_VALUE_CHARS = 1500  # the harness reports return values of up to 2000 JSON characters
# CodeExecServer.tool_definitions(), as the rows carry it (the environment's tests check they stay equal).
TOOLS = [
    {
        "type": "function",
        "name": "run_python",
        "description": "Run a Python 3 program in a sandbox (no network, a few seconds, no files kept between "
        "calls) and\nreturn its exit status, stdout and stderr. Use it to try your function before "
        "you answer.",
        "parameters": {
            "properties": {
                "code": {
                    "description": "A complete Python 3 program. Its stdout and stderr are returned; print what you "
                    "want to see.",
                    "maxLength": 100000,
                    "minLength": 1,
                    "title": "Code",
                    "type": "string",
                }
            },
            "required": ["code"],
            "title": "RunPythonArgs",
            "type": "object",
        },
        "strict": False,
    }
]
INSTRUCTIONS = (
    "You may try code with the `run_python` tool (it runs a Python 3 program and returns its output) "
    "before you answer. Your final answer must contain the complete function, with any imports and "
    "helper functions it needs, in one ```python code block."
)

WORDS = [
    "apple",
    "river",
    "stone",
    "cloud",
    "garden",
    "silver",
    "window",
    "planet",
    "forest",
    "candle",
    "mirror",
    "rocket",
    "pepper",
    "harbor",
    "meadow",
    "violet",
    "thunder",
    "pencil",
    "orange",
    "bridge",
    "castle",
    "dragon",
    "lemon",
    "falcon",
    "copper",
    "winter",
    "summer",
    "island",
    "marble",
    "jungle",
    "tiger",
    "banana",
    "basket",
    "cactus",
    "engine",
    "feather",
    "glacier",
    "hammer",
    "ink",
    "jacket",
    "kettle",
    "ladder",
    "magnet",
    "needle",
    "oyster",
    "puzzle",
    "quiet",
    "ribbon",
    "saddle",
    "tunnel",
    "umbrella",
    "velvet",
    "wagon",
    "yogurt",
    "zipper",
    "bee",
    "cat",
    "dog",
    "fox",
    "owl",
    "sun",
    "sky",
    "tea",
    "map",
    "key",
    "art",
    "book",
    "lamp",
    "moon",
    "rain",
    "snow",
    "wind",
    "leaf",
    "rose",
]
LONG_WORDS = ["internationalization", "extraordinarily", "characteristically", "incomprehensibilities"]
ANAGRAMS = [
    ["listen", "silent", "enlist", "tinsel", "inlets"],
    ["stone", "tones", "notes", "onset"],
    ["evil", "vile", "live", "veil"],
    ["angel", "glean", "angle"],
    ["heart", "earth", "hater"],
    ["night", "thing"],
    ["state", "taste"],
    ["below", "elbow", "bowel"],
    ["dusty", "study"],
    ["least", "slate", "steal", "tales", "stale"],
    ["rat", "tar", "art"],
    ["god", "dog"],
    ["pots", "stop", "tops", "spot", "post"],
    ["cat", "act"],
]
PRIMES = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97]
ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}

Args = list[Any]


def ordinal(k: int) -> str:
    return ORDINALS.get(k, f"{k}th")


def quoted(text: str) -> str:
    return json.dumps(text)


# ------------------------------------------------------------------------------------------ the catalogue


@dataclass
class Family:
    """A kind of task. Every callable takes the variant's parameters `p` (a dict of UPPER_CASE constants)."""

    name: str
    entry: str | Callable[[dict[str, Any]], str]  # the function's name
    signature: str | Callable[[dict[str, Any]], str]  # `def name(args) -> type:`
    variants: list[dict[str, Any]]
    describe: Callable[[dict[str, Any], Callable[..., Any]], str]  # (p, the reference function) -> text
    body: str | Callable[[dict[str, Any]], str]  # the reference's source, after the constants
    draw: Callable[[random.Random, dict[str, Any]], Args]  # random arguments
    edges: Callable[[dict[str, Any]], list[Args]] = lambda p: []  # arguments every row of the variant tests
    shown: list[Args] = field(default_factory=list)  # arguments the description's own examples use
    boolean: bool = False  # returns a bool: tests alternate True and False

    def pick(self, attr: str, p: dict[str, Any]) -> Any:
        value = getattr(self, attr)
        return value(p) if callable(value) else value


FAMILIES: list[Family] = []


def family(**kwargs: Any) -> None:
    FAMILIES.append(Family(**kwargs))


def sentence(rng: random.Random, count: int, caps: bool = True) -> str:
    parts = []
    for _ in range(count):
        word = rng.choice(WORDS)
        if caps:
            word = rng.choice([word, word, word.capitalize(), word.upper()])
        parts.append(word + rng.choice(["", "", "", ",", "!", "?", "."]) + rng.choice([" "] * 6 + [" 42 ", " - "]))
    return "".join(parts).strip()


def int_list(rng: random.Random, low: int, high: int, min_len: int, max_len: int) -> list[int]:
    return [rng.randint(low, high) for _ in range(rng.randint(min_len, max_len))]


# ---- strings

CAESAR = """
def caesar_shift(text):
    out = []
    for ch in text:
        if "a" <= ch <= "z":
            out.append(chr((ord(ch) - ord("a") + SHIFT) % 26 + ord("a")))
        elif "A" <= ch <= "Z":
            out.append(chr((ord(ch) - ord("A") + SHIFT) % 26 + ord("A")))
        else:
            out.append(ch)
    return "".join(out)
"""
family(
    name="caesar_shift",
    entry="caesar_shift",
    signature="def caesar_shift(text: str) -> str:",
    variants=[{"SHIFT": k} for k in range(1, 26)],
    describe=lambda p, f: (
        f"Shift every ASCII letter of `text` {p['SHIFT']} places forward in the alphabet, wrapping around "
        f"from z back to a (so 'a' becomes {f('a')!r} and 'z' becomes {f('z')!r}). Keep each letter's case "
        "(upper-case letters stay upper-case). Leave every other character (digits, spaces, punctuation) "
        "unchanged."
    ),
    body=CAESAR,
    draw=lambda rng, p: [sentence(rng, rng.randint(1, 5))],
    edges=lambda p: [["xyz XYZ"], ["Zebra-7 crossing!"]],
)

VIGENERE = """
def vigenere_encrypt(text):
    out, k = [], 0
    for ch in text:
        if ch.isascii() and ch.isalpha():
            base = ord("a") if ch.islower() else ord("A")
            shift = ord(KEY[k % len(KEY)]) - ord("a")
            out.append(chr((ord(ch) - base + shift) % 26 + base))
            k += 1
        else:
            out.append(ch)
    return "".join(out)
"""
family(
    name="vigenere",
    entry="vigenere_encrypt",
    signature="def vigenere_encrypt(text: str) -> str:",
    variants=[
        {"KEY": key}
        for key in [
            "lemon",
            "key",
            "cipher",
            "gamma",
            "python",
            "zebra",
            "orbit",
            "quartz",
            "maple",
            "river",
            "stone",
            "delta",
            "nova",
            "blue",
            "frost",
            "ivy",
        ]
    ],
    describe=lambda p, f: (
        f"Encrypt `text` with the Vigenere cipher and the key {quoted(p['KEY'])}. Number the ASCII letters of "
        "`text` 0, 1, 2, ... (other characters are not counted). Letter number i is shifted forward in the "
        f"alphabet by the position of key letter i mod {len(p['KEY'])} (a=0, b=1, ..., z=25), wrapping around "
        "from z back to a, and keeps its case. Every other character (digits, spaces, punctuation) is copied "
        "unchanged and does not use up a key letter."
    ),
    body=VIGENERE,
    draw=lambda rng, p: [sentence(rng, rng.randint(1, 4))],
    edges=lambda p: [["Attack at dawn!"], ["zzz ZZZ"]],
)

RLE_ENCODE = """
def run_length_encode(s):
    groups = []
    i = 0
    while i < len(s):
        j = i
        while j < len(s) and s[j] == s[i]:
            j += 1
        count = "" if OMIT_ONE and j - i == 1 else str(j - i)
        groups.append(count + s[i] if COUNT_FIRST else s[i] + count)
        i = j
    return SEP.join(groups)
"""


def runs(rng: random.Random, alphabet: str = "abcde", max_runs: int = 6) -> str:
    out, last = "", ""
    for _ in range(rng.randint(1, max_runs)):
        ch = rng.choice([c for c in alphabet if c != last])
        out += ch * rng.choice([1, 1, 1, 2, 2, 3, 4, 5, 7, 10, 12])
        last = ch
    return out


def sep_text(sep: str) -> str:
    return "nothing between them" if sep == "" else f"{quoted(sep)} between consecutive runs"


family(
    name="run_length_encode",
    entry="run_length_encode",
    signature="def run_length_encode(s: str) -> str:",
    variants=[
        {"COUNT_FIRST": first, "OMIT_ONE": omit, "SEP": sep}
        for first in (True, False)
        for omit in (False, True)
        for sep in ("", "-", ",", "|")
    ],
    describe=lambda p, f: (
        "Run-length encode `s`: split it into maximal runs of one repeated character and write each run as "
        + (
            "its length (in decimal) followed by its character"
            if p["COUNT_FIRST"]
            else "its character followed by its length (in decimal)"
        )
        + (
            ", except that a run of length 1 is written as its character alone"
            if p["OMIT_ONE"]
            else " (a run of length 1 too has its 1)"
        )
        + f". Join the runs' encodings with {sep_text(p['SEP'])}. The empty string encodes to the empty string. "
        f'For example, "aaabccdddd" encodes to {quoted(f("aaabccdddd"))}.'
    ),
    body=RLE_ENCODE,
    draw=lambda rng, p: [runs(rng)],
    edges=lambda p: [[""], ["z"]],
    shown=[["aaabccdddd"]],
)

RLE_DECODE = """
def run_length_decode(s):
    out = []
    for group in (s.split(SEP) if SEP else [s]) if s else []:
        while group:
            if COUNT_FIRST:
                i = 0
                while group[i].isdigit():
                    i += 1
                out.append(group[i] * int(group[:i]))
                group = group[i + 1:]
            else:
                i = 1
                while i < len(group) and group[i].isdigit():
                    i += 1
                out.append(group[0] * int(group[1:i]))
                group = group[i:]
    return "".join(out)
"""


def rle(text: str, count_first: bool, sep: str) -> str:
    groups, i = [], 0
    while i < len(text):
        j = i
        while j < len(text) and text[j] == text[i]:
            j += 1
        groups.append(f"{j - i}{text[i]}" if count_first else f"{text[i]}{j - i}")
        i = j
    return sep.join(groups)


family(
    name="run_length_decode",
    entry="run_length_decode",
    signature="def run_length_decode(s: str) -> str:",
    variants=[{"COUNT_FIRST": first, "SEP": sep} for first in (True, False) for sep in ("", "-")],
    describe=lambda p, f: (
        "`s` is a run-length encoding: a sequence of groups, each "
        + (
            "a positive count (decimal digits, possibly more than one) followed by a lower-case letter"
            if p["COUNT_FIRST"]
            else "a lower-case letter followed by a positive count (decimal digits, possibly more than one)"
        )
        + (
            ", with nothing between the groups"
            if p["SEP"] == ""
            else f", with {quoted(p['SEP'])} between consecutive groups"
        )
        + ". Return the decoded string: each group's letter repeated count times, in order. The empty string "
        f"decodes to the empty string. For example, {quoted(rle('aaabcc', p['COUNT_FIRST'], p['SEP']))} decodes "
        'to "aaabcc".'
    ),
    body=RLE_DECODE,
    draw=lambda rng, p: [rle(runs(rng), p["COUNT_FIRST"], p["SEP"])],
    edges=lambda p: [[""], [rle("q" * 12, p["COUNT_FIRST"], p["SEP"])]],
    shown=[[rle("aaabcc", first, sep)] for first in (True, False) for sep in ("", "-")],
)

BALANCED = """
def is_balanced(s):
    closers = {pair[1]: pair[0] for pair in PAIRS}
    openers = {pair[0] for pair in PAIRS}
    stack = []
    for ch in s:
        if ch in openers:
            stack.append(ch)
        elif ch in closers:
            if not stack or stack.pop() != closers[ch]:
                return False
    return not stack
"""
BRACKETS = ["()", "[]", "{}", "<>"]


def bracket_string(rng: random.Random, p: dict[str, Any]) -> Args:
    pairs = p["PAIRS"]
    others = [b for b in BRACKETS if b not in pairs]

    def nest(budget: int) -> str:
        out = ""
        while budget > 0 and rng.random() < 0.7:
            pair = rng.choice(pairs)
            inner = rng.randint(0, budget - 1)
            out += pair[0] + nest(inner) + pair[1]
            budget -= inner + 1
        return out

    chars = list(nest(rng.randint(1, 8)) or rng.choice(pairs))
    if rng.random() < 0.5:  # break it
        i = rng.randrange(len(chars))
        action = rng.choice(["delete", "swap", "insert", "reverse"])
        if action == "delete":
            del chars[i]
        elif action == "swap" and len(chars) > 1:
            j = rng.randrange(len(chars))
            chars[i], chars[j] = chars[j], chars[i]
        elif action == "insert":
            chars.insert(i, rng.choice("".join(pairs)))
        else:
            chars.reverse()
    for _ in range(rng.randint(0, 4)):  # noise: letters, and brackets of the kinds that do not count
        noise = rng.choice("abxyz" + "".join(others) * 2) if others else rng.choice("abxyz ")
        chars.insert(rng.randint(0, len(chars)), noise)
    return ["".join(chars)]


def pair_names(pairs: list[str]) -> str:
    names = {"()": "round ()", "[]": "square []", "{}": "curly {}", "<>": "angle <>"}
    listed = [names[pair] for pair in pairs]
    return listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]


family(
    name="balanced_brackets",
    entry="is_balanced",
    signature="def is_balanced(s: str) -> bool:",
    variants=[{"PAIRS": [b for i, b in enumerate(BRACKETS) if mask >> i & 1]} for mask in range(1, 16)],
    describe=lambda p, f: (
        f"Return True if the brackets in `s` are balanced, else False. Only {pair_names(p['PAIRS'])} brackets "
        "count; every other character (including any other kind of bracket) is ignored. Balanced means: "
        "reading left to right, every closing bracket closes the most recently opened bracket that is still "
        "open, which must be of the same kind, and no bracket is left open at the end. A string without "
        "brackets (the empty string too) is balanced."
    ),
    body=BALANCED,
    draw=bracket_string,
    boolean=True,
    edges=lambda p: [[""], [p["PAIRS"][0][::-1]]],
)

ROMAN = [
    (1000, "M"),
    (900, "CM"),
    (500, "D"),
    (400, "CD"),
    (100, "C"),
    (90, "XC"),
    (50, "L"),
    (40, "XL"),
    (10, "X"),
    (9, "IX"),
    (5, "V"),
    (4, "IV"),
    (1, "I"),
]
TO_ROMAN = """
def to_roman(n):
    out = ""
    for value, symbols in VALUES:
        out += symbols * (n // value)
        n %= value
    return out.lower() if LOWER else out
"""


def roman(n: int) -> str:
    out = ""
    for value, symbols in ROMAN:
        out += symbols * (n // value)
        n %= value
    return out


def roman_number(rng: random.Random) -> int:
    return rng.choice(
        [rng.randint(1, 3999), rng.randint(1, 100), int("".join(rng.choice("0123456789") for _ in range(3))) + 1]
    )


family(
    name="to_roman",
    entry="to_roman",
    signature="def to_roman(n: int) -> str:",
    variants=[
        {"VALUES": ROMAN if subtractive else [(v, s) for v, s in ROMAN if len(s) == 1], "LOWER": lower}
        for subtractive in (True, False)
        for lower in (False, True)
    ],
    describe=lambda p, f: (
        "Write n (1 <= n <= 3999) in Roman numerals, in "
        + (
            "lower-case letters: i=1, v=5, x=10, l=50, c=100, d=500, m=1000. "
            if p["LOWER"]
            else "upper-case letters: I=1, V=5, X=10, L=50, C=100, D=500, M=1000. "
        )
        + (
            "Use the standard subtractive forms (4, 9, 40, 90, 400 and 900 are written "
            + ", ".join(quoted(f(v)) for v in (4, 9, 40, 90, 400, 900))
            + "), largest values first, so 1994 is "
            + quoted(f(1994))
            + "."
            if len(p["VALUES"]) == 13
            else "Use the old additive form, without subtraction: write the symbols from the largest value to the "
            "smallest, each as many times as fits, so 4 is "
            + quoted(f(4))
            + ", 9 is "
            + quoted(f(9))
            + " and 1994 is "
            + quoted(f(1994))
            + "."
        )
    ),
    body=TO_ROMAN,
    draw=lambda rng, p: [roman_number(rng)],
    edges=lambda p: [[1], [3999]],
    shown=[[4], [9], [40], [90], [400], [900], [1994]],
)

FROM_ROMAN = """
def from_roman(s):
    values = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}
    digits = [values[ch.lower()] for ch in s]
    total = 0
    for i, value in enumerate(digits):
        total += -value if i + 1 < len(digits) and digits[i + 1] > value else value
    return total
"""
family(
    name="from_roman",
    entry="from_roman",
    signature="def from_roman(s: str) -> int:",
    variants=[{"LOWER": False}, {"LOWER": True}],
    describe=lambda p, f: (
        "`s` is a number from 1 to 3999 in standard Roman numerals, written in "
        + (
            "lower-case letters (i=1, v=5, x=10, l=50, c=100, d=500, m=1000)"
            if p["LOWER"]
            else "upper-case letters (I=1, V=5, X=10, L=50, C=100, D=500, M=1000)"
        )
        + ", with the subtractive forms for 4, 9, 40, 90, 400 and 900 ("
        + ("iv, ix, xl, xc, cd, cm" if p["LOWER"] else "IV, IX, XL, XC, CD, CM")
        + "). Return its value as an int."
    ),
    body=FROM_ROMAN,
    draw=lambda rng, p: [roman(roman_number(rng)).lower() if p["LOWER"] else roman(roman_number(rng))],
    edges=lambda p: [["i" if p["LOWER"] else "I"], ["mmmcmxcix" if p["LOWER"] else "MMMCMXCIX"]],
)

WORD_FREQUENCIES = """
def word_frequencies(text):
    counts = {}
    word = ""
    for ch in text + " ":
        if ch.isascii() and ch.isalpha():
            word += ch
            continue
        if len(word) >= MIN_LENGTH:
            key = word.lower() if FOLD_CASE else word
            counts[key] = counts.get(key, 0) + 1
        word = ""
    return counts
"""
SMALL_VOCAB = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "it", "sun", "is", "up"]
TEXT_VOCAB = [*SMALL_VOCAB, "over", "river", "stone", "green", "light", "after", "bird", "tree"]


def chatter(rng: random.Random, vocab: list[str], count: int) -> str:
    out = ""
    for _ in range(count):
        word = rng.choice(vocab)
        out += rng.choice([word, word, word.capitalize(), word.upper()]) + rng.choice(
            [" ", " ", " ", ", ", ". ", "! ", " - ", "'s ", "; ", "\n"]
        )
    return out.strip()


family(
    name="word_frequencies",
    entry="word_frequencies",
    signature="def word_frequencies(text: str) -> dict[str, int]:",
    variants=[{"MIN_LENGTH": k, "FOLD_CASE": fold} for k in (1, 2, 3, 4) for fold in (True, False)],
    describe=lambda p, f: (
        "Count the words of `text`. A word is a maximal run of ASCII letters (a-z, A-Z); every other "
        'character separates words, so "it\'s" is the two words "it" and "s". '
        + (
            'Words are counted case-insensitively and the keys are lower-case ("The" and "THE" both count as "the"). '
            if p["FOLD_CASE"]
            else 'Words are case-sensitive ("The" and "the" are different '
            "keys), and each key is the word as it appears. "
        )
        + (f"Only words of at least {p['MIN_LENGTH']} letters are counted. " if p["MIN_LENGTH"] > 1 else "")
        + "Return a dict mapping each counted word to its number of occurrences (the empty dict if there is "
        "none)."
    ),
    body=WORD_FREQUENCIES,
    draw=lambda rng, p: [chatter(rng, TEXT_VOCAB, rng.randint(3, 12))],
    edges=lambda p: [[""], ["It's a DOG-dog day!"]],
)

CASE_STYLES: dict[str, tuple[str, Callable[[list[str]], str]]] = {
    "snake": ('snake_case (lower-case words joined by underscores, e.g. "max_retry_count")', lambda w: "_".join(w)),
    "kebab": ('kebab-case (lower-case words joined by hyphens, e.g. "max-retry-count")', lambda w: "-".join(w)),
    "camel": (
        "camelCase (the first word lower-case, every later word capitalised, nothing between them, e.g. "
        '"maxRetryCount")',
        lambda w: w[0] + "".join(x.capitalize() for x in w[1:]),
    ),
    "pascal": (
        'PascalCase (every word capitalised, nothing between them, e.g. "MaxRetryCount")',
        lambda w: "".join(x.capitalize() for x in w),
    ),
    "constant": (
        'CONSTANT_CASE (upper-case words joined by underscores, e.g. "MAX_RETRY_COUNT")',
        lambda w: "_".join(x.upper() for x in w),
    ),
    "title": (
        'Title Case (capitalised words joined by single spaces, e.g. "Max Retry Count")',
        lambda w: " ".join(x.capitalize() for x in w),
    ),
}
CONVERT_CASE = {
    "snake": '    words = name.split("_")\n',
    "kebab": '    words = name.split("-")\n',
    "camel": "    words = []\n    for ch in name:\n        if ch.isupper() or not words:\n"
    '            words.append("")\n        words[-1] += ch.lower()\n',
}
CONVERT_CASE_OUT = {
    "snake": '    return "_".join(words)\n',
    "kebab": '    return "-".join(words)\n',
    "camel": '    return words[0] + "".join(w.capitalize() for w in words[1:])\n',
    "pascal": '    return "".join(w.capitalize() for w in words)\n',
    "constant": '    return "_".join(w.upper() for w in words)\n',
    "title": '    return " ".join(w.capitalize() for w in words)\n',
}
family(
    name="convert_case",
    entry="convert_case",
    signature="def convert_case(name: str) -> str:",
    variants=[{"FROM": a, "TO": b} for a in ("snake", "kebab", "camel") for b in CASE_STYLES if a != b],
    describe=lambda p, f: (
        f"`name` is an identifier in {CASE_STYLES[p['FROM']][0]}. It has one or more words, each made of "
        f"ASCII letters only. Return the same words in {CASE_STYLES[p['TO']][0]}."
    ),
    body=lambda p: "\ndef convert_case(name):\n" + CONVERT_CASE[p["FROM"]] + CONVERT_CASE_OUT[p["TO"]],
    draw=lambda rng, p: [CASE_STYLES[p["FROM"]][1](rng.sample(WORDS, rng.randint(1, 4)))],
    edges=lambda p: [[CASE_STYLES[p["FROM"]][1](["x"])]],
)

ALMOST_PALINDROME = """
def almost_palindrome(s):
    n = len(s)
    longest = [[0] * (n + 1) for _ in range(n + 1)]  # longest[i][j]: longest palindromic subsequence of s[i:j]
    for length in range(1, n + 1):
        for i in range(n - length + 1):
            j = i + length
            if length == 1:
                longest[i][j] = 1
            elif s[i] == s[j - 1]:
                longest[i][j] = longest[i + 1][j - 1] + 2
            else:
                longest[i][j] = max(longest[i + 1][j], longest[i][j - 1])
    return n - longest[0][n] <= K
"""


def near_palindrome(rng: random.Random, p: dict[str, Any]) -> Args:
    half = "".join(rng.choice("abc") for _ in range(rng.randint(1, 6)))
    chars = list(half + rng.choice(["", "a", "b"]) + half[::-1])
    for _ in range(rng.randint(0, p["K"] + 2)):
        chars.insert(rng.randint(0, len(chars)), rng.choice("abcd"))
    return ["".join(chars)]


family(
    name="almost_palindrome",
    entry="almost_palindrome",
    signature="def almost_palindrome(s: str) -> bool:",
    variants=[{"K": k} for k in range(5)],
    describe=lambda p, f: (
        (
            "Return True if `s` is a palindrome (reads the same forwards and backwards), else False. "
            if p["K"] == 0
            else f"Return True if `s` can be turned into a palindrome (a string that reads the same forwards and "
            f"backwards) by deleting at most {p['K']} of its characters (anywhere in the string), else False. "
        )
        + "Characters are compared exactly (case-sensitive). The empty string is a palindrome."
    ),
    body=ALMOST_PALINDROME,
    draw=near_palindrome,
    boolean=True,
    edges=lambda p: [[""], ["ab"]],
)

REVERSE_WORDS = {
    "order": "    return SEP.join(text.split(SEP)[::-1])\n",
    "letters": "    return SEP.join(word[::-1] for word in text.split(SEP))\n",
    "length": "    return SEP.join(sorted(text.split(SEP), key=len))\n",
}
family(
    name="reverse_words",
    entry="reverse_words",
    signature="def reverse_words(text: str) -> str:",
    variants=[{"SEP": sep, "MODE": mode} for sep in (" ", ",", ";", "-", "/", "|") for mode in REVERSE_WORDS],
    describe=lambda p, f: (
        f"`text` is a list of words separated by single {quoted(p['SEP'])} characters (words are non-empty and "
        f"contain no {quoted(p['SEP'])}). "
        + {
            "order": "Return the words in reverse order",
            "letters": "Return the words in the same order, each with its letters reversed",
            "length": "Return the words sorted by length, shortest first; words of the same length keep their "
            "order from `text`",
        }[p["MODE"]]
        + ", joined by the same separator. The empty string gives the empty string. For example, "
        + f"{quoted(p['SEP'].join(['one', 'three', 'four']))} gives "
        + f"{quoted(f(p['SEP'].join(['one', 'three', 'four'])))}."
    ),
    body=lambda p: "\ndef reverse_words(text):\n" + REVERSE_WORDS[p["MODE"]],
    draw=lambda rng, p: [p["SEP"].join(rng.choice([w, w.capitalize()]) for w in rng.sample(WORDS, rng.randint(1, 6)))],
    edges=lambda p: [[""], ["solo"]],
    shown=[[sep.join(["one", "three", "four"])] for sep in (" ", ",", ";", "-", "/", "|")],
)

ANAGRAM_GROUPS = """
def anagram_groups(words):
    groups = {}
    for word in words:
        key = "".join(sorted(word.lower() if FOLD_CASE else word))
        groups.setdefault(key, []).append(word)
    return [group for group in groups.values() if len(group) >= MIN_SIZE]
"""


def anagram_words(rng: random.Random, p: dict[str, Any]) -> Args:
    words: list[str] = []
    for group in rng.sample(ANAGRAMS, rng.randint(1, 4)):
        words += rng.sample(group, rng.randint(1, min(3, len(group))))
    words += rng.sample(WORDS, rng.randint(0, 3))
    if rng.random() < 0.3:
        words.append(rng.choice(words))
    rng.shuffle(words)
    if p["FOLD_CASE"]:
        words = [rng.choice([w, w, w.capitalize(), w.upper()]) for w in words]
    return [words]


family(
    name="anagram_groups",
    entry="anagram_groups",
    signature="def anagram_groups(words: list[str]) -> list[list[str]]:",
    variants=[{"MIN_SIZE": m, "FOLD_CASE": fold} for m in (1, 2, 3) for fold in (False, True)],
    describe=lambda p, f: (
        "Group the words that are anagrams of each other: two words are in the same group when they are made "
        "of the same letters, each the same number of times"
        + (', ignoring case ("Stop" and "POTS" are anagrams)' if p["FOLD_CASE"] else " (case-sensitive)")
        + ". Each group lists its words as they are written, in the order they appear in `words` (a word that "
        "appears twice is listed twice). "
        + (
            f"Return only the groups with at least {p['MIN_SIZE']} words, "
            if p["MIN_SIZE"] > 1
            else "Return every group (a word with no anagram is a group of one), "
        )
        + "ordered by where their first word appears in `words`. An empty list gives []."
    ),
    body=ANAGRAM_GROUPS,
    draw=anagram_words,
    edges=lambda p: [[[]]],
)

# ---- lists

CHUNKS = {
    "keep": "    return [items[i:i + SIZE] for i in range(0, len(items), SIZE)]\n",
    "drop": "    return [items[i:i + SIZE] for i in range(0, len(items) - SIZE + 1, SIZE)]\n",
    "pad": "    return [(items[i:i + SIZE] + [0] * SIZE)[:SIZE] for i in range(0, len(items), SIZE)]\n",
}
family(
    name="chunk_list",
    entry="chunk_list",
    signature="def chunk_list(items: list[int]) -> list[list[int]]:",
    variants=[{"SIZE": size, "MODE": mode} for size in range(2, 8) for mode in CHUNKS],
    describe=lambda p, f: (
        f"Split `items` into consecutive chunks of {p['SIZE']} elements, in order, and return the list of chunks. "
        + {
            "keep": "If the length is not a multiple of the chunk size, the last chunk is shorter.",
            "drop": "If the length is not a multiple of the chunk size, the leftover elements at the end (fewer "
            "than a whole chunk) are dropped.",
            "pad": "If the length is not a multiple of the chunk size, the last chunk is filled up with zeros at "
            "its end to the full size.",
        }[p["MODE"]]
        + " An empty list gives []."
    ),
    body=lambda p: "\ndef chunk_list(items):\n" + CHUNKS[p["MODE"]],
    draw=lambda rng, p: [int_list(rng, -9, 99, 1, 15)],
    edges=lambda p: [[[]], [list(range(1, p["SIZE"] + 1))]],
)

ROTATE = """
def rotate_list(items):
    if not items:
        return []
    k = STEPS % len(items)
    return items[k:] + items[:k] if LEFT else items[len(items) - k:] + items[:len(items) - k]
"""
family(
    name="rotate_list",
    entry="rotate_list",
    signature="def rotate_list(items: list[int]) -> list[int]:",
    variants=[{"STEPS": k, "LEFT": left} for k in range(1, 8) for left in (True, False)],
    describe=lambda p, f: (
        f"Return a new list: `items` rotated {p['STEPS']} place{'s' if p['STEPS'] > 1 else ''} to the "
        + (
            "left. One place to the left moves the first element to the end"
            if p["LEFT"]
            else "right. One place to the right moves the last element to the front"
        )
        + f", so [1, 2, 3, 4, 5] becomes {f([1, 2, 3, 4, 5])}. Rotating a list by its length gives it back "
        "unchanged, so shorter lists rotate by the number of places modulo their length. An empty list gives "
        "[]."
    ),
    body=ROTATE,
    draw=lambda rng, p: [int_list(rng, 0, 50, 1, 10)],
    edges=lambda p: [[[]], [[7]]],
    shown=[[[1, 2, 3, 4, 5]]],
)

WINDOW_STATS = {
    "sum": ("the sum", "sum(window)", "int"),
    "max": ("the largest value", "max(window)", "int"),
    "min": ("the smallest value", "min(window)", "int"),
    "mean": ("the mean (a float: the sum divided by the window size)", "sum(window) / WIDTH", "float"),
    "range": ("the range (largest value minus smallest value)", "max(window) - min(window)", "int"),
}
family(
    name="window_stats",
    entry="window_stats",
    signature=lambda p: f"def window_stats(values: list[int]) -> list[{WINDOW_STATS[p['STAT']][2]}]:",
    variants=[{"WIDTH": k, "STAT": stat} for k in range(2, 7) for stat in WINDOW_STATS],
    describe=lambda p, f: (
        f"For every window of {p['WIDTH']} consecutive elements of `values`, from the window that starts at "
        f"index 0 to the one that ends at the last element, compute {WINDOW_STATS[p['STAT']][0]} of the "
        f"window. Return these in order: a list of len(values) - {p['WIDTH'] - 1} numbers, or [] when `values` "
        f"has fewer than {p['WIDTH']} elements."
    ),
    body=lambda p: (
        "\ndef window_stats(values):\n    out = []\n    for i in range(len(values) - WIDTH + 1):\n"
        "        window = values[i:i + WIDTH]\n        out.append(" + WINDOW_STATS[p["STAT"]][1] + ")\n    return out\n"
    ),
    draw=lambda rng, p: [int_list(rng, -20, 20, p["WIDTH"] - 1, p["WIDTH"] + 8)],
    edges=lambda p: [[[]]],
)

FLATTEN = """
def flatten(nested):
    out = nested
    for _ in range(LEVELS):
        flat = []
        for item in out:
            if isinstance(item, list):
                flat.extend(item)
            else:
                flat.append(item)
        if flat == out:
            break
        out = flat
    return out
"""


def nested_list(rng: random.Random, depth: int = 4) -> list[Any]:
    out: list[Any] = []
    for _ in range(rng.randint(0, 4)):
        out.append(nested_list(rng, depth - 1) if depth > 0 and rng.random() < 0.4 else rng.randint(0, 9))
    return out


family(
    name="flatten",
    entry="flatten",
    signature="def flatten(nested: list) -> list:",
    variants=[{"LEVELS": levels} for levels in (1, 2, 3, 1000)],
    describe=lambda p, f: (
        "`nested` is a list whose elements are integers or lists of the same kind (nested to any depth). "
        + (
            "Flatten it completely: return the list of all its integers, in order (left to right), with no lists "
            "left inside."
            if p["LEVELS"] == 1000
            else f"Flatten it by {p['LEVELS']} level{'s' if p['LEVELS'] > 1 else ''}: one level replaces each element "
            "that is a list by that list's elements (in place, in order), and leaves the integers as they are"
            + (f"; apply this {p['LEVELS']} times" if p["LEVELS"] > 1 else "")
            + ". Deeper lists stay lists."
        )
        + f" For example, [1, [2, [3, [4, [5]]]], []] gives {f([1, [2, [3, [4, [5]]]], []])}."
    ),
    body=FLATTEN,
    draw=lambda rng, p: [nested_list(rng)],
    edges=lambda p: [[[]], [[[[[5]]], 6]]],
    shown=[[[1, [2, [3, [4, [5]]]], []]]],
)

LIMIT_REPEATS = {
    "keep": "    seen = {}\n    out = []\n    for x in items:\n        seen[x] = seen.get(x, 0) + 1\n"
    "        if seen[x] <= K:\n            out.append(x)\n    return out\n",
    "drop": "    return [x for x in items if items.count(x) <= K]\n",
}
family(
    name="limit_repeats",
    entry="limit_repeats",
    signature="def limit_repeats(items: list[int]) -> list[int]:",
    variants=[{"K": k, "MODE": mode} for k in (1, 2, 3, 4) for mode in LIMIT_REPEATS],
    describe=lambda p, f: (
        (
            (
                "Keep only the first occurrence of each value of `items`"
                if p["K"] == 1
                else f"Keep only the first {p['K']} occurrences of each value of `items`"
            )
            + "; drop the later ones."
            if p["MODE"] == "keep"
            else f"Remove every occurrence of each value that occurs more than {p['K']} time"
            + ("s" if p["K"] > 1 else "")
            + " in `items`; keep the other values."
        )
        + " Return the kept elements in their original order, as a new list."
    ),
    body=lambda p: "\ndef limit_repeats(items):\n" + LIMIT_REPEATS[p["MODE"]],
    draw=lambda rng, p: [int_list(rng, 0, 5, 1, 14)],
    edges=lambda p: [[[]]],
)

KTH_DISTINCT = """
def kth_distinct(nums):
    values = sorted(set(nums), reverse=LARGEST)
    return values[K - 1] if len(values) >= K else None
"""
family(
    name="kth_distinct",
    entry="kth_distinct",
    signature="def kth_distinct(nums: list[int]) -> int | None:",
    variants=[{"K": k, "LARGEST": largest} for k in range(1, 6) for largest in (True, False)],
    describe=lambda p, f: (
        f"Return the {'largest' if p['LARGEST'] else 'smallest'} value of `nums`, or None if `nums` is empty."
        if p["K"] == 1
        else f"Return the {ordinal(p['K'])} {'largest' if p['LARGEST'] else 'smallest'} distinct value of `nums`: "
        f"each value counts once however often it occurs, and the 1st {'largest' if p['LARGEST'] else 'smallest'} "
        f"is the {'maximum' if p['LARGEST'] else 'minimum'}. Return None if `nums` has fewer than {p['K']} "
        "distinct values."
    ),
    body=KTH_DISTINCT,
    draw=lambda rng, p: [int_list(rng, -10, 10, 1, 10)],
    edges=lambda p: [[[]], [[3, 3, 3]]],
)

MERGE_INTERVALS = """
def merge_intervals(intervals):
    merged = []
    for start, end in sorted(intervals):
        if merged and start - merged[-1][1] <= GAP:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged
"""


def intervals(rng: random.Random, p: dict[str, Any]) -> Args:
    out = []
    for _ in range(rng.randint(1, 7)):
        start = rng.randint(0, 30)
        out.append([start, start + rng.randint(0, 6)])
    return [out]


family(
    name="merge_intervals",
    entry="merge_intervals",
    signature="def merge_intervals(intervals: list[list[int]]) -> list[list[int]]:",
    variants=[{"GAP": gap} for gap in range(6)],
    describe=lambda p, f: (
        "Each interval is a list [start, end] of two integers with start <= end; it covers the integers from "
        "start to end inclusive. The intervals are in no particular order. Repeatedly merge two intervals "
        f"[a, b] and [c, d] with a <= c into [a, max(b, d)] when c - b <= {p['GAP']} ("
        + (
            "they overlap or touch, so [1, 3] and [3, 5] merge but [1, 3] and [4, 5] do not"
            if p["GAP"] == 0
            else f"they overlap, or the gap between them is at most {p['GAP']}"
        )
        + "), until no two intervals can be merged. Return the resulting intervals sorted by start, as lists "
        "[start, end]. An empty list gives []."
    ),
    body=MERGE_INTERVALS,
    draw=intervals,
    edges=lambda p: [[[]], [[[4, 9]]]],
)

TWO_SUM = {
    "first": (
        "the pair with the smallest i, and among those the smallest j",
        "    for i in range(len(nums)):\n        for j in range(i + 1, len(nums)):\n"
        "            if nums[i] + nums[j] == target:\n                return [i, j]\n",
    ),
    "closest": (
        "the pair with the smallest distance j - i, and among those the smallest i",
        "    for d in range(1, len(nums)):\n        for i in range(len(nums) - d):\n"
        "            if nums[i] + nums[i + d] == target:\n                return [i, i + d]\n",
    ),
    "last": (
        "the pair with the largest j, and among those the largest i",
        "    for j in range(len(nums) - 1, 0, -1):\n        for i in range(j - 1, -1, -1):\n"
        "            if nums[i] + nums[j] == target:\n                return [i, j]\n",
    ),
}


def two_sum_args(rng: random.Random, p: dict[str, Any]) -> Args:
    nums = int_list(rng, -10, 20, 2, 9)
    target = sum(rng.sample(nums, 2)) if rng.random() < 0.75 else rng.randint(-20, 40)
    return [nums, target]


family(
    name="two_sum",
    entry="two_sum",
    signature="def two_sum(nums: list[int], target: int) -> list[int]:",
    variants=[{"RULE": rule, "NONE": none} for rule in TWO_SUM for none in ([], [-1, -1])],
    describe=lambda p, f: (
        "Find two positions i < j of `nums` with nums[i] + nums[j] == target. If several pairs qualify, return "
        f"{TWO_SUM[p['RULE']][0]}, as the list [i, j]. If no pair qualifies, return {p['NONE']}."
    ),
    body=lambda p: "\ndef two_sum(nums, target):\n" + TWO_SUM[p["RULE"]][1] + "    return list(NONE)\n",
    draw=two_sum_args,
    edges=lambda p: [[[3, 3], 6], [[1], 2]],
)

family(
    name="count_pairs",
    entry="count_pairs",
    signature="def count_pairs(nums: list[int]) -> int:",
    variants=[{"M": m} for m in range(2, 13)],
    describe=lambda p, f: (
        f"Return the number of pairs of positions (i, j) with i < j such that nums[i] + nums[j] is divisible "
        f"by {p['M']}. Elements may be negative or repeated; equal values at different positions are different "
        "pairs. Fewer than two elements give 0."
    ),
    body=(
        "\ndef count_pairs(nums):\n    return sum(1 for i in range(len(nums)) for j in range(i + 1, len(nums))"
        "\n               if (nums[i] + nums[j]) % M == 0)\n"
    ),
    draw=lambda rng, p: [int_list(rng, -20, 50, 2, 12)],
    edges=lambda p: [[[]], [[p["M"], 0, -p["M"]]]],
)

# ---- matrices

TRANSFORMS = {
    "transpose": (
        "Return its transpose: the element in row i, column j of the result is matrix[j][i]",
        "[list(row) for row in zip(*matrix)]",
    ),
    "rotate_cw": ("Return it rotated 90 degrees clockwise", "[list(row) for row in zip(*matrix[::-1])]"),
    "rotate_ccw": ("Return it rotated 90 degrees counter-clockwise", "[list(row) for row in zip(*matrix)][::-1]"),
    "rotate_180": ("Return it rotated 180 degrees", "[row[::-1] for row in matrix[::-1]]"),
    "mirror": (
        "Return its mirror image left to right: every row reversed, rows in the same order",
        "[row[::-1] for row in matrix]",
    ),
    "flip": (
        "Return it flipped upside down: the rows in reverse order, each row unchanged",
        "[list(row) for row in matrix[::-1]]",
    ),
    "anti_transpose": (
        "Return its transpose along the anti-diagonal: the element in row i, column j of the "
        "result is matrix[R - 1 - j][C - 1 - i], where the matrix has R rows and C columns",
        "[list(row) for row in zip(*matrix[::-1])][::-1]",
    ),
}


def matrix(rng: random.Random, max_rows: int = 4, max_cols: int = 4) -> list[list[int]]:
    rows, cols = rng.randint(1, max_rows), rng.randint(1, max_cols)
    return [[rng.randint(0, 99) for _ in range(cols)] for _ in range(rows)]


family(
    name="transform_matrix",
    entry="transform",
    signature="def transform(matrix: list[list[int]]) -> list[list[int]]:",
    variants=[{"OP": op} for op in TRANSFORMS],
    describe=lambda p, f: (
        "`matrix` is a list of rows of integers, all rows of the same length (at least one row and one "
        f"column; it need not be square). {TRANSFORMS[p['OP']][0]}, as a new list of rows. For example, "
        f"[[1, 2, 3], [4, 5, 6]] gives {f([[1, 2, 3], [4, 5, 6]])}."
    ),
    body=lambda p: "\ndef transform(matrix):\n    return " + TRANSFORMS[p["OP"]][1] + "\n",
    draw=lambda rng, p: [matrix(rng)],
    edges=lambda p: [[[[7]]]],
    shown=[[[[1, 2, 3], [4, 5, 6]]]],
)

SPIRAL = """
def spiral_order(matrix):
    grid = [list(row) for row in matrix]
    for _ in range(TURNS):  # rotate counter-clockwise until the starting corner is at the top left
        grid = [list(row) for row in zip(*grid)][::-1]
    if not CLOCKWISE:
        grid = [list(row) for row in zip(*grid)]
    out = []
    while grid:
        out.extend(grid[0])
        grid = [list(row) for row in zip(*grid[1:])][::-1]
    return out
"""
CORNERS = ["top-left", "top-right", "bottom-right", "bottom-left"]
FIRST_MOVES = {  # (corner, clockwise): the first stretch of the walk
    ("top-left", True): "right along the top row",
    ("top-left", False): "down the left column",
    ("top-right", True): "down the right column",
    ("top-right", False): "left along the top row",
    ("bottom-right", True): "left along the bottom row",
    ("bottom-right", False): "up the right column",
    ("bottom-left", True): "up the left column",
    ("bottom-left", False): "right along the bottom row",
}
family(
    name="spiral_order",
    entry="spiral_order",
    signature="def spiral_order(matrix: list[list[int]]) -> list[int]:",
    variants=[{"TURNS": turns, "CLOCKWISE": cw} for turns in range(4) for cw in (True, False)],
    describe=lambda p, f: (
        "`matrix` is a list of rows of integers, all of the same length (at least one row and one column; it "
        "need not be square). Return its elements in spiral order: start at the "
        f"{CORNERS[p['TURNS']]} corner and go {FIRST_MOVES[CORNERS[p['TURNS']], p['CLOCKWISE']]}, then keep "
        f"walking {'clockwise' if p['CLOCKWISE'] else 'counter-clockwise'} around the outer border, and continue "
        "inwards in the same direction, ring by ring, until every element has been listed exactly once. For "
        f"example, [[1, 2, 3], [4, 5, 6], [7, 8, 9]] gives {f([[1, 2, 3], [4, 5, 6], [7, 8, 9]])}."
    ),
    body=SPIRAL,
    draw=lambda rng, p: [matrix(rng, 5, 5)],
    edges=lambda p: [[[[1, 2, 3]]], [[[1], [2], [3]]]],
    shown=[[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]],
)

# ---- numbers

TO_BASE = """
def to_base(n):
    if n == 0:
        return "0"
    digits = ""
    m = abs(n)
    while m:
        digits = "0123456789abcdef"[m % BASE] + digits
        m //= BASE
    return ("-" if n < 0 else "") + digits
"""


def some_int(rng: random.Random, low: int, high: int) -> int:
    return rng.choice(
        [rng.randint(low, high), rng.randint(max(low, -100), min(high, 100)), rng.randint(max(low, 0), min(high, 1000))]
    )


family(
    name="to_base",
    entry="to_base",
    signature="def to_base(n: int) -> str:",
    variants=[{"BASE": base} for base in range(2, 17) if base != 10],
    describe=lambda p, f: (
        f"Write the integer n in base {p['BASE']}, using the digits "
        + (
            "0-9 and then the lower-case letters a-" + "abcdef"[p["BASE"] - 11] + " for 10-" + str(p["BASE"] - 1)
            if p["BASE"] > 10
            else f"0-{p['BASE'] - 1}"
        )
        + ', with no prefix and no leading zeros; 0 is "0". A negative n is written as "-" followed by the '
        "digits of -n."
    ),
    body=TO_BASE,
    draw=lambda rng, p: [some_int(rng, -(10**6), 10**9)],
    edges=lambda p: [[0], [-1], [p["BASE"]]],
)

DIGIT_SUM = """
def digit_sum(n):
    total = 0
    while n:
        total += n % BASE
        n //= BASE
    return total
"""
family(
    name="digit_sum",
    entry="digit_sum",
    signature="def digit_sum(n: int) -> int:",
    variants=[{"BASE": base} for base in range(2, 17)],
    describe=lambda p, f: (
        f"Return the sum of the digits of n (n >= 0) written in base {p['BASE']}, each digit counted by its "
        f"value (0 to {p['BASE'] - 1})"
        + (" (so for base 2 this is the number of 1 bits)" if p["BASE"] == 2 else "")
        + ". The digit sum of 0 is 0."
    ),
    body=DIGIT_SUM,
    draw=lambda rng, p: [some_int(rng, 0, 10**9)],
    edges=lambda p: [[0], [p["BASE"] ** 3 - 1]],
)

BASE_PALINDROME = """
def is_base_palindrome(n):
    digits = []
    while True:
        digits.append(n % BASE)
        n //= BASE
        if n == 0:
            return digits == digits[::-1]
"""


def base_palindrome_arg(rng: random.Random, p: dict[str, Any]) -> Args:
    base = p["BASE"]
    if rng.random() < 0.5:
        return [rng.randint(0, 10**6)]
    half = [rng.randint(1, base - 1)] + [rng.randint(0, base - 1) for _ in range(rng.randint(0, 4))]
    digits = half + ([rng.randint(0, base - 1)] if rng.random() < 0.5 else []) + half[::-1]
    return [sum(d * base**i for i, d in enumerate(digits))]


family(
    name="base_palindrome",
    entry="is_base_palindrome",
    signature="def is_base_palindrome(n: int) -> bool:",
    variants=[{"BASE": base} for base in range(2, 17) if base != 10],
    describe=lambda p, f: (
        f'Return True if n (n >= 0) written in base {p["BASE"]} (without leading zeros; 0 is written "0") is '
        "a palindrome, that is, its digits read the same from left to right and from right to left; else "
        "False."
    ),
    body=BASE_PALINDROME,
    draw=base_palindrome_arg,
    boolean=True,
    edges=lambda p: [[0], [p["BASE"]]],
)

PRIME_FACTORS = """
def has_k_prime_factors(n):
    factors = []
    d = 2
    while d * d <= n:
        while n % d == 0:
            factors.append(d)
            n //= d
        d += 1
    if n > 1:
        factors.append(n)
    return len(set(factors) if DISTINCT else factors) == K
"""


def factor_arg(rng: random.Random, p: dict[str, Any]) -> Args:
    if rng.random() < 0.3:
        return [rng.randint(1, 10**5)]
    count = max(1, p["K"] + rng.choice([-1, 0, 0, 1]))
    primes = (
        rng.sample(PRIMES[:12], min(count, 12)) if p["DISTINCT"] else [rng.choice(PRIMES[:8]) for _ in range(count)]
    )
    n = math.prod(primes)
    if p["DISTINCT"] and rng.random() < 0.5:
        n *= rng.choice(primes)
    return [n]


family(
    name="prime_factors",
    entry="has_k_prime_factors",
    signature="def has_k_prime_factors(n: int) -> bool:",
    variants=[{"K": k, "DISTINCT": distinct} for k in range(1, 7) for distinct in (False, True)],
    describe=lambda p, f: (
        f"Return True if the integer n (n >= 1) has exactly {p['K']} "
        + (
            "distinct prime factors (12 = 2 * 2 * 3 has two: 2 and 3)"
            if p["DISTINCT"]
            else "prime factors counted with multiplicity (12 = 2 * 2 * 3 has three)"
        )
        + ", else False. 1 has no prime factors."
    ),
    body=PRIME_FACTORS,
    draw=factor_arg,
    boolean=True,
    edges=lambda p: [[1]],
)

family(
    name="power_mod",
    entry="power_mod",
    signature="def power_mod(base: int, exponent: int) -> int:",
    variants=[{"M": m} for m in (7, 12, 97, 101, 1000, 1009, 65537, 10**9 + 7, 998244353, 2**32)],
    describe=lambda p, f: (
        f"Return base ** exponent modulo {p['M']}, as an integer from 0 to {p['M'] - 1}. `base` may be negative "
        "or 0 (0 ** 0 is 1); `exponent` is >= 0 and may be as large as 10**18, so compute it efficiently."
    ),
    body="\ndef power_mod(base, exponent):\n    return pow(base, exponent, M)\n",
    draw=lambda rng, p: [some_int(rng, -1000, 10**9), rng.choice([rng.randint(0, 20), rng.randint(0, 10**18)])],
    edges=lambda p: [[0, 0], [-2, 3], [2, 10**18]],
)

FIZZBUZZ = """
def fizzbuzz(n):
    out = []
    for i in range(1, n + 1):
        word = ("Fizz" if i % A == 0 else "") + ("Buzz" if i % B == 0 else "")
        out.append(word or str(i))
    return out
"""
family(
    name="fizzbuzz",
    entry="fizzbuzz",
    signature="def fizzbuzz(n: int) -> list[str]:",
    variants=[{"A": a, "B": b} for a in range(2, 8) for b in range(a + 1, 8)],
    describe=lambda p, f: (
        f'Return a list of n strings, one for each integer i from 1 to n: "FizzBuzz" if i is divisible by both '
        f'{p["A"]} and {p["B"]}, else "Fizz" if i is divisible by {p["A"]}, else "Buzz" if i is divisible '
        f'by {p["B"]}, else i in decimal (like "7"). n >= 0; 0 gives [].'
    ),
    body=FIZZBUZZ,
    draw=lambda rng, p: [rng.randint(1, 30)],
    edges=lambda p: [[0]],
)

RECURRENCE = """
def sequence_term(n):
    a, b = FIRST, SECOND
    for _ in range(n):
        a, b = b, b + C * a
    return a
"""
family(
    name="linear_recurrence",
    entry="sequence_term",
    signature="def sequence_term(n: int) -> int:",
    variants=[{"FIRST": a0, "SECOND": a1, "C": c} for (a0, a1) in ((0, 1), (2, 1), (1, 1), (1, 3)) for c in (1, 2, 3)],
    describe=lambda p, f: (
        f"The sequence a is defined by a(0) = {p['FIRST']}, a(1) = {p['SECOND']} and a(k) = a(k - 1) + "
        + ("" if p["C"] == 1 else f"{p['C']} * ")
        + "a(k - 2) for k >= 2. Return a(n) for n >= 0 (exactly, as "
        "an int; n is at most 60). The first terms are " + ", ".join(str(f(k)) for k in range(6)) + "."
    ),
    body=RECURRENCE,
    draw=lambda rng, p: [rng.randint(2, 60)],
    edges=lambda p: [[0], [1]],
    shown=[[k] for k in range(6)],
)

DIGIT_CHECK = """
def check_digit(digits):
    total = sum(int(d) * WEIGHTS[i % len(WEIGHTS)] for i, d in enumerate(digits))
    return (M - total % M) % M
"""
family(
    name="check_digit",
    entry="check_digit",
    signature="def check_digit(digits: str) -> int:",
    variants=[{"WEIGHTS": w, "M": m} for w in ([1, 3], [3, 1], [2, 1], [1, 2, 3], [7, 3, 1]) for m in (7, 10, 11)],
    describe=lambda p, f: (
        "`digits` is a non-empty string of decimal digits. Multiply its digits, from left to right, by the "
        f"weights {', '.join(map(str, p['WEIGHTS']))}, repeating that cycle (the first digit gets weight "
        f"{p['WEIGHTS'][0]}, the {ordinal(len(p['WEIGHTS']) + 1)} gets weight {p['WEIGHTS'][0]} again), and add the "
        f"products up into a sum S. Return the check digit ({p['M']} - S mod {p['M']}) mod {p['M']}, an integer "
        f"from 0 to {p['M'] - 1}."
    ),
    body=DIGIT_CHECK,
    draw=lambda rng, p: ["".join(rng.choice("0123456789") for _ in range(rng.randint(1, 12)))],
    edges=lambda p: [["0"]],
)

# ---- dictionaries

INVERT = {
    "ascending": "sorted(keys)",
    "descending": "sorted(keys, reverse=True)",
    "insertion": "keys",
}
COLORS = ["red", "green", "blue", "amber"]


def mapping(rng: random.Random, p: dict[str, Any]) -> Args:
    return [{word: rng.choice(COLORS) for word in rng.sample(WORDS, rng.randint(1, 8))}]


family(
    name="invert_dict",
    entry="invert",
    signature="def invert(mapping: dict[str, str]) -> dict[str, list[str]]:",
    variants=[{"ORDER": order} for order in INVERT],
    describe=lambda p, f: (
        "Invert `mapping`: return a dict whose keys are the values of `mapping`, each mapped to the list of "
        "the keys of `mapping` that have that value, "
        + {
            "ascending": "sorted in ascending (alphabetical, Python string) order",
            "descending": "sorted in descending (reverse alphabetical, Python string) order",
            "insertion": "in the order they appear in `mapping`",
        }[p["ORDER"]]
        + ". An empty dict gives {}."
    ),
    body=lambda p: (
        "\ndef invert(mapping):\n    out = {}\n    for key, value in mapping.items():\n"
        "        out.setdefault(value, []).append(key)\n"
        "    return {value: " + INVERT[p["ORDER"]] + " for value, keys in out.items()}\n"
    ),
    draw=mapping,
    edges=lambda p: [[{}]],
)

MERGE_COUNTS = {
    "sum": ("the sum of its values", "out[key] = out.get(key, 0) + value"),
    "max": ("its largest value", "out[key] = max(out.get(key, value), value)"),
    "min": ("its smallest value", "out[key] = min(out.get(key, value), value)"),
    "first": ("its value in the first dict that has it", "out.setdefault(key, value)"),
    "last": ("its value in the last dict that has it", "out[key] = value"),
    "count": ("the number of dicts that have it", "out[key] = out.get(key, 0) + 1"),
}
FRUITS = ["apple", "pear", "plum", "fig", "kiwi", "lime"]
family(
    name="merge_counts",
    entry="merge_counts",
    signature="def merge_counts(dicts: list[dict[str, int]]) -> dict[str, int]:",
    variants=[{"RULE": rule} for rule in MERGE_COUNTS],
    describe=lambda p, f: (
        "`dicts` is a list of dicts mapping strings to integers. Return one dict with every key that occurs in "
        f"any of them, mapped to {MERGE_COUNTS[p['RULE']][0]}. An empty list gives {{}}."
    ),
    body=lambda p: (
        "\ndef merge_counts(dicts):\n    out = {}\n    for d in dicts:\n"
        "        for key, value in d.items():\n            " + MERGE_COUNTS[p["RULE"]][1] + "\n    return out\n"
    ),
    draw=lambda rng, p: [
        [{k: rng.randint(-5, 20) for k in rng.sample(FRUITS, rng.randint(0, 4))} for _ in range(rng.randint(1, 4))]
    ],
    edges=lambda p: [[[]]],
)

TOP_WORDS = """
def top_words(words):
    counts = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    order = sorted(counts, key=lambda w: (-counts[w], w)) if ALPHABETICAL else sorted(counts, key=lambda w: -counts[w])
    return order[:K]
"""
family(
    name="top_words",
    entry="top_words",
    signature="def top_words(words: list[str]) -> list[str]:",
    variants=[{"K": k, "ALPHABETICAL": alpha} for k in range(1, 6) for alpha in (True, False)],
    describe=lambda p, f: (
        "Return a list holding the most frequent word of `words` (if several words are equally frequent, the "
        + (
            "one first in alphabetical (Python string) order"
            if p["ALPHABETICAL"]
            else "one that occurs first in `words`"
        )
        + "). An empty list gives []."
        if p["K"] == 1
        else f"Return the {p['K']} most frequent distinct words of `words`, most frequent first; words with the same "
        + (
            "count are in alphabetical (Python string) order. "
            if p["ALPHABETICAL"]
            else "count are in the order of their first occurrence in `words`. "
        )
        + f"If there are fewer than {p['K']} distinct words, return them all. An empty list gives []."
    ),
    body=TOP_WORDS,
    draw=lambda rng, p: [[rng.choice(SMALL_VOCAB[:7]) for _ in range(rng.randint(1, 15))]],
    edges=lambda p: [[[]]],
)

SORT_WORDS = {
    "length": (
        "by length, shortest first; words of the same length in alphabetical (Python string) order",
        "(len(w), w)",
    ),
    "length_desc": (
        "by length, longest first; words of the same length in alphabetical (Python string) order",
        "(-len(w), w)",
    ),
    "last_letter": (
        "by their last letter; words with the same last letter in alphabetical (Python string) order",
        "(w[-1], w)",
    ),
    "vowels": (
        "by their number of vowels (a, e, i, o, u), fewest first; words with the same number in "
        "alphabetical (Python string) order",
        "(sum(c in 'aeiou' for c in w), w)",
    ),
    "reversed": ("alphabetically (Python string order) by the word spelled backwards", "w[::-1]"),
}
family(
    name="sort_words",
    entry="sort_words",
    signature="def sort_words(words: list[str]) -> list[str]:",
    variants=[{"KEY": key} for key in SORT_WORDS],
    describe=lambda p, f: (
        "`words` is a list of non-empty lower-case words (duplicates possible). Return a new list of the same "
        f"words sorted {SORT_WORDS[p['KEY']][0]}."
    ),
    body=lambda p: (
        "\ndef sort_words(words):\n    return sorted(words, key=lambda w: " + SORT_WORDS[p["KEY"]][1] + ")\n"
    ),
    draw=lambda rng, p: [[rng.choice(WORDS) for _ in range(rng.randint(1, 8))]],
    edges=lambda p: [[[]]],
)

# ---- algorithms

MAX_WINDOW = {
    "at_most": "    best = None\n    for i in range(len(nums)):\n"
    "        for j in range(i + 1, min(i + K, len(nums)) + 1):\n            total = sum(nums[i:j])\n"
    "            best = total if best is None else max(best, total)\n"
    "    return best\n",
    "exactly": "    if len(nums) < K:\n        return None\n"
    "    return max(sum(nums[i:i + K]) for i in range(len(nums) - K + 1))\n",
}
family(
    name="max_window_sum",
    entry="max_window_sum",
    signature=lambda p: "def max_window_sum(nums: list[int]) -> int" + (" | None:" if p["MODE"] == "exactly" else ":"),
    variants=[{"K": k, "MODE": mode} for k in range(2, 8) for mode in MAX_WINDOW],
    describe=lambda p, f: (
        (
            f"`nums` is a non-empty list of integers. Return the largest sum of a contiguous run of at least 1 and "
            f"at most {p['K']} of its elements."
            if p["MODE"] == "at_most"
            else f"Return the largest sum of {p['K']} consecutive elements of `nums`, or None if it has fewer than "
            f"{p['K']} elements."
        )
        + " Elements may be negative."
    ),
    body=lambda p: "\ndef max_window_sum(nums):\n" + MAX_WINDOW[p["MODE"]],
    draw=lambda rng, p: [int_list(rng, -10, 10, 1, 12)],
    edges=lambda p: [[[-3]]] if p["MODE"] == "at_most" else [[[]], [[-3]]],
)

COINS = [
    [1, 2, 5],
    [1, 3, 4],
    [2, 3, 7],
    [1, 5, 10, 25],
    [3, 5],
    [2, 5, 10],
    [4, 7, 9],
    [1, 6, 9],
    [5, 8],
    [2, 3, 5, 11],
]
COIN_WAYS = """
def coin_ways(amount):
    ways = [1] + [0] * amount
    for coin in COINS:
        for total in range(coin, amount + 1):
            ways[total] += ways[total - coin]
    return ways[amount]
"""
MIN_COINS = """
def min_coins(amount):
    best = [0] + [None] * amount
    for total in range(1, amount + 1):
        options = [best[total - c] for c in COINS if c <= total and best[total - c] is not None]
        best[total] = min(options) + 1 if options else None
    return -1 if best[amount] is None else best[amount]
"""
family(
    name="coin_change",
    entry=lambda p: "coin_ways" if p["WAYS"] else "min_coins",
    signature=lambda p: f"def {'coin_ways' if p['WAYS'] else 'min_coins'}(amount: int) -> int:",
    variants=[{"COINS": coins, "WAYS": ways} for coins in COINS for ways in (True, False)],
    describe=lambda p, f: (
        f"Coins come in the values {', '.join(map(str, p['COINS']))}, with as many of each as needed. "
        + (
            "Return the number of different ways to pay exactly `amount` (amount >= 0) with them, where the "
            "order of the coins does not matter (2 + 1 and 1 + 2 are the same way). There is 1 way to pay 0."
            if p["WAYS"]
            else "Return the smallest number of coins that add up to exactly `amount` (amount >= 0), or -1 if no "
            "combination of coins makes it. Paying 0 takes 0 coins."
        )
    ),
    body=lambda p: COIN_WAYS if p["WAYS"] else MIN_COINS,
    draw=lambda rng, p: [rng.randint(1, 100)],
    edges=lambda p: [[0], [1]],
)

STAIRS = """
def count_paths(n):
    ways = [1] + [0] * n
    for total in range(1, n + 1):
        ways[total] = sum(ways[total - step] for step in STEPS if step <= total)
    return ways[n]
"""
family(
    name="count_paths",
    entry="count_paths",
    signature="def count_paths(n: int) -> int:",
    variants=[
        {"STEPS": steps}
        for steps in ([1, 2], [1, 3], [2, 3], [1, 2, 3], [1, 4], [2, 5], [1, 3, 5], [3, 4], [1, 2, 4], [2, 3, 4])
    ],
    describe=lambda p, f: (
        f"A staircase has n steps (n >= 0). Each move climbs {' or '.join(map(str, p['STEPS']))} steps. Return "
        "the number of different sequences of moves that reach exactly the top (the order of the moves "
        "matters, so 1 then 2 differs from 2 then 1). n = 0 has one way: no move at all."
    ),
    body=STAIRS,
    draw=lambda rng, p: [rng.randint(1, 40)],
    edges=lambda p: [[0], [1]],
)

EDIT_DISTANCE = """
def edit_distance(a, b):
    rows = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        for j in range(len(b) + 1):
            if i == 0 or j == 0:
                rows[i][j] = j * INSERT + i * DELETE
                continue
            options = [rows[i - 1][j] + DELETE, rows[i][j - 1] + INSERT]
            if a[i - 1] == b[j - 1]:
                options.append(rows[i - 1][j - 1])
            elif SUBSTITUTE is not None:
                options.append(rows[i - 1][j - 1] + SUBSTITUTE)
            rows[i][j] = min(options)
    return rows[len(a)][len(b)]
"""
family(
    name="edit_distance",
    entry="edit_distance",
    signature="def edit_distance(a: str, b: str) -> int:",
    variants=[
        {"INSERT": i, "DELETE": d, "SUBSTITUTE": s}
        for i, d, s in ((1, 1, 1), (2, 2, 3), (2, 1, 1), (1, 2, 2), (1, 1, None))
    ],
    describe=lambda p, f: (
        "Return the smallest total cost of turning string `a` into string `b` with single-character edits: "
        f"inserting a character costs {p['INSERT']}, deleting one costs {p['DELETE']}"
        + (
            f", and replacing one character by a different one costs {p['SUBSTITUTE']}"
            if p["SUBSTITUTE"]
            else "; replacing a character is not allowed (only insertions and deletions)"
        )
        + ". Equal strings cost 0."
    ),
    body=EDIT_DISTANCE,
    draw=lambda rng, p: ["".join(rng.choice("abcd") for _ in range(rng.randint(0, 8))) for _ in range(2)],
    edges=lambda p: [["", "abc"], ["same", "same"]],
)

LOOK_AND_SAY = """
def look_and_say(s):
    for _ in range(TIMES):
        out, i = "", 0
        while i < len(s):
            j = i
            while j < len(s) and s[j] == s[i]:
                j += 1
            out += str(j - i) + s[i]
            i = j
        s = out
    return s
"""
family(
    name="look_and_say",
    entry="look_and_say",
    signature="def look_and_say(s: str) -> str:",
    variants=[{"TIMES": k} for k in range(1, 5)],
    describe=lambda p, f: (
        "One look-and-say step reads a string of digits as maximal runs of one repeated digit and writes each "
        'run as its length (in decimal) followed by the digit: "1" becomes "11" (one 1), "1211" becomes '
        f'"111221". Return the result of applying {p["TIMES"]} such step{"s" if p["TIMES"] > 1 else ""} to '
        f"the non-empty digit string `s`" + (f' (so "1" gives {quoted(f("1"))})' if p["TIMES"] > 1 else "") + "."
    ),
    body=LOOK_AND_SAY,
    draw=lambda rng, p: ["".join(rng.choice("11223") for _ in range(rng.randint(1, 6)))],
    edges=lambda p: [["9"]],
    shown=[["1"], ["1211"]],
)

WRAP = """
def wrap_text(text):
    lines = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= WIDTH:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines
"""
family(
    name="wrap_text",
    entry="wrap_text",
    signature="def wrap_text(text: str) -> list[str]:",
    variants=[{"WIDTH": width} for width in range(8, 31)],
    describe=lambda p, f: (
        f"Wrap `text` into lines of at most {p['WIDTH']} characters, greedily: take the words in order (words "
        "are separated by single spaces) and put each on the current line, separated from the previous word "
        f"by one space, if the line stays within {p['WIDTH']} characters; otherwise start a new line with it. A "
        f"word longer than {p['WIDTH']} characters gets a line of its own (it is not split). Return the list of "
        "lines (no line starts or ends with a space); an empty text gives []."
    ),
    body=WRAP,
    draw=lambda rng, p: [" ".join(rng.choice(WORDS + LONG_WORDS[:1]) for _ in range(rng.randint(1, 14)))],
    edges=lambda p: [[""], [LONG_WORDS[-1] + " a"]],
)

DURATION = {
    "clock": (
        '"H:MM:SS": hours (not padded, as many digits as needed), then minutes and seconds with two '
        'digits each, so 3725 is "1:02:05" and 0 is "0:00:00"',
        '    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"\n',
    ),
    "clock2": (
        '"HH:MM:SS": hours with at least two digits (zero-padded), then minutes and seconds with two '
        'digits each, so 3725 is "01:02:05", 0 is "00:00:00" and 400000 is "111:06:40"',
        '    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"\n',
    ),
    "units": (
        'hours, minutes and seconds as "<h>h<m>m<s>s", leaving out every part that is 0, so 3725 is '
        '"1h2m5s", 3600 is "1h" and 65 is "1m5s"; 0 is "0s"',
        '    parts = [(seconds // 3600, "h"), (seconds // 60 % 60, "m"), (seconds % 60, "s")]\n'
        '    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"\n',
    ),
    "minutes": (
        '"M:SS": whole minutes (not padded, as many digits as needed, not split into hours), then the '
        'seconds with two digits, so 3725 is "62:05" and 0 is "0:00"',
        '    return f"{seconds // 60}:{seconds % 60:02d}"\n',
    ),
}
family(
    name="format_duration",
    entry="format_duration",
    signature="def format_duration(seconds: int) -> str:",
    variants=[{"FORMAT": fmt} for fmt in DURATION],
    describe=lambda p, f: f"Format a duration of `seconds` (an integer >= 0) as {DURATION[p['FORMAT']][0]}.",
    body=lambda p: "\ndef format_duration(seconds):\n" + DURATION[p["FORMAT"]][1],
    draw=lambda rng, p: [rng.choice([rng.randint(0, 400000), rng.randint(0, 4000), rng.randint(0, 100)])],
    edges=lambda p: [[59], [86400]],
    shown=[[3725], [0], [400000], [3600], [65]],
)

RANGES = """
def summarize_ranges(nums):
    parts, i = [], 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        if j - i + 1 >= MIN_RUN:
            parts.append(f"{nums[i]}{RANGE_SEP}{nums[j]}")
        else:
            parts.extend(str(n) for n in nums[i:j + 1])
        i = j + 1
    return ITEM_SEP.join(parts)
"""
family(
    name="summarize_ranges",
    entry="summarize_ranges",
    signature="def summarize_ranges(nums: list[int]) -> str:",
    variants=[
        {"RANGE_SEP": rs, "ITEM_SEP": sep, "MIN_RUN": run}
        for rs in ("-", "..", "~", "->")
        for sep in (",", ", ", ";", " ")
        for run in (2, 3)
    ],
    describe=lambda p, f: (
        "`nums` is a list of non-negative integers in strictly increasing order. Summarise it as a string: "
        f"split it into maximal runs of consecutive integers; write a run of {p['MIN_RUN']} or more numbers as "
        f"its first number, {quoted(p['RANGE_SEP'])} and its last number, and a shorter run as its numbers one "
        f'by one. Join all the pieces with {quoted(p["ITEM_SEP"])}. An empty list gives "". For example, '
        f"[0, 1, 2, 4, 6, 7, 9] gives {quoted(f([0, 1, 2, 4, 6, 7, 9]))}."
    ),
    body=RANGES,
    draw=lambda rng, p: [sorted(rng.sample(range(0, 30), rng.randint(1, 14)))],
    edges=lambda p: [[[]], [[5]]],
    shown=[[[0, 1, 2, 4, 6, 7, 9]]],
)


# ------------------------------------------------------------------------------------------ tasks


@dataclass
class Task:
    family: Family
    params: dict[str, Any]
    script: list[dict[str, Any]] | None = None  # example rows only


def constants(params: dict[str, Any], body: str) -> str:
    return "".join(f"{name} = {value!r}\n" for name, value in params.items() if name in body)


def reference_source(task: Task) -> str:
    """The variant's reference solution: a complete answer (its constants, then the function)."""
    body: str = task.family.pick("body", task.params)
    return constants(task.params, body) + body


def load(source: str, entry: str) -> Callable[..., Any]:
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<{entry}>", "exec"), namespace)  # our own reference code
    function: Callable[..., Any] = namespace[entry]
    return function


def as_json(value: Any) -> Any:
    """What the harness reports: the value through JSON, where it must survive unchanged (tuples aside)."""
    text = json.dumps(value, allow_nan=False)
    decoded = json.loads(text)
    if not same_shape(value, decoded):
        raise ValueError(f"{value!r} does not survive JSON")
    if len(text) > MAX_VALUE_CHARS:
        raise ValueError(f"a value of {len(text)} JSON characters")
    return decoded


def same_shape(value: Any, decoded: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return isinstance(decoded, list) and len(value) == len(decoded) and all(map(same_shape, value, decoded))
    if isinstance(value, dict):
        return (
            isinstance(decoded, dict)
            and all(isinstance(k, str) for k in value)
            and list(value) == list(decoded)
            and all(same_shape(value[k], decoded[k]) for k in value)
        )
    return type(value) is type(decoded) and value == decoded


def call(function: Callable[..., Any], args: Args) -> Any:
    return as_json(function(*copy.deepcopy(args)))


def show(value: Any) -> str:
    return repr(value)


def render_prompt(entry: str, signature: str, description: str, examples: list[tuple[Args, Any]]) -> str:
    shown = "\n".join(
        f"    >>> {entry}({', '.join(show(a) for a in args)})\n    {show(value)}" for args, value in examples
    )
    return (
        f"Write a Python function with this signature:\n\n    {signature}\n\n{description}\n\nExamples:\n\n"
        f"{shown}\n\n{INSTRUCTIONS}"
    )


def make_row(rng: random.Random, row_id: int, task: Task) -> dict[str, Any]:
    fam, p = task.family, task.params
    entry = fam.pick("entry", p)
    function = load(reference_source(task), entry)
    used = {json.dumps(args) for args in fam.shown}
    picked: list[tuple[Args, Any]] = []

    def fresh(want: bool | None, unlike: Sequence[Any] = ()) -> tuple[Args, Any]:
        """New arguments (whose value is `want`, and preferably none of `unlike`) and their value."""
        for attempt in range(2000):
            args = json.loads(json.dumps(fam.draw(rng, p)))
            key = json.dumps(args)
            if key in used:
                continue
            value = call(function, args)
            if (want is not None and value is not want) or (value in unlike and attempt < 200):
                continue
            used.add(key)
            return args, value
        raise RuntimeError(f"{fam.name} {p}: no fresh arguments in 2000 draws")

    # Two worked examples with different answers (True and False for a predicate), then the hidden tests.
    first = fresh(True if fam.boolean else None)
    examples = [first, fresh(False if fam.boolean else None, [first[1]])]
    count = rng.randint(8, 12)
    for args in fam.edges(p):
        key = json.dumps(args)
        if key not in used:
            used.add(key)
            picked.append((args, call(function, args)))
    while len(picked) < count:
        picked.append(fresh((len(picked) % 2 == 0) if fam.boolean else None))
    rng.shuffle(picked)
    prompt = render_prompt(
        entry, fam.pick("signature", p), fam.describe(p, lambda *a: call(function, list(a))), examples
    )
    params: dict[str, Any] = {"input": [{"role": "user", "content": prompt}], "tools": TOOLS}
    if task.script is not None:
        params["metadata"] = {"gymbox_script": json.dumps(task.script, separators=(",", ":"))}
    return {
        "id": row_id,
        "family": fam.name,
        "entry_point": entry,
        "tests": [{"args": args, "expected": value} for args, value in picked],
        "responses_create_params": params,
    }


# ------------------------------------------------------------------------------------------ example rows


def answer(code: str, prose: str = "") -> str:
    return f"{prose}```python\n{code}```"


TO_BASE_7 = (
    "def to_base(n):\n    s, m = '', abs(n)\n    while m:\n        s = str(m % 7) + s\n        m //= 7\n"
    "    return '-' * (n < 0) + (s or '0')\n"
)
FIZZBUZZ_3_5 = (
    "def fizzbuzz(n):\n    return ['Fizz' * (i % 3 == 0) + 'Buzz' * (i % 5 == 0) or str(i)\n"
    "            for i in range(1, n + 1)]\n"
)
CHUNK_3 = "def chunk_list(items):\n    return [items[i:i + 3] for i in range(0, len(items), 3)]\n"
ADDITIVE_ROMAN = (
    "def to_roman(n):\n    out = ''\n    for v, s in zip((1000, 500, 100, 50, 10, 5, 1), 'MDCLXVI'):\n"
    "        out += s * (n // v)\n        n %= v\n    return out\n"
)
CAESAR_BACKWARDS = (
    "def caesar_shift(text):\n    out = ''\n    for c in text:\n        if c.isalpha():\n"
    "            b = 65 if c.isupper() else 97\n            c = chr((ord(c) - b - 3) % 26 + b)\n"
    "        out += c\n    return out\n"
)
# (family, variant, script, what the scripted answer earns), one per example row: see README.md.
EXAMPLES: list[tuple[str, dict[str, Any], list[dict[str, Any]], str]] = [
    ("to_base", {"BASE": 7}, [{"say": answer(TO_BASE_7, "Repeated division by 7:\n\n")}], "all"),
    (
        "fizzbuzz",
        {"A": 3, "B": 5},
        [{"think": "Multiples of 3 say Fizz, of 5 Buzz, of both FizzBuzz.", "say": answer(FIZZBUZZ_3_5)}],
        "all",
    ),
    (
        "chunk_list",
        {"SIZE": 3, "MODE": "keep"},
        [
            {"calls": [{"name": "run_python", "arguments": {"code": CHUNK_3 + "print(chunk_list([1, 2, 3, 4]))\n"}}]},
            {"say": answer(CHUNK_3, "It printed {{ outputs[0].stdout | trim }}, as expected.\n\n")},
        ],
        "all",
    ),
    ("to_roman", {"VALUES": ROMAN, "LOWER": False}, [{"say": answer(ADDITIVE_ROMAN)}], "some"),
    ("caesar_shift", {"SHIFT": 3}, [{"say": answer(CAESAR_BACKWARDS)}], "none"),
]


def answer_code(script: list[dict[str, Any]]) -> str:
    text: str = script[-1]["say"]
    return text[text.rindex("```python\n") + len("```python\n") : text.rindex("```")]


def score(code: str, row: dict[str, Any]) -> float:
    """The fraction of the row's tests that `code` passes, computed here (the verifier does it in the sandbox)."""
    function = load(code, row["entry_point"])
    passed = 0
    for test in row["tests"]:
        try:
            passed += call(function, test["args"]) == test["expected"]
        except Exception:  # a failing call fails its test
            continue
    return passed / len(row["tests"])


def example_rows(rng: random.Random) -> tuple[list[dict[str, Any]], set[tuple[str, str]]]:
    rows, taken = [], set()
    for row_id, (name, params, script, earns) in enumerate(EXAMPLES):
        [fam] = [f for f in FAMILIES if f.name == name]
        assert params in fam.variants, (name, params)
        row = make_row(rng, row_id, Task(fam, params, script))
        reward = score(answer_code(script), row)
        assert {"all": reward == 1.0, "some": 0.0 < reward < 1.0, "none": reward == 0.0}[earns], (name, reward)
        assert len(row["responses_create_params"]["metadata"]["gymbox_script"]) <= SCRIPT_LIMIT, name
        rows.append(row)
        taken.add((name, json.dumps(params)))
    return rows, taken


# ------------------------------------------------------------------------------------------ splits


def split_tasks(rng: random.Random, taken: set[tuple[str, str]]) -> dict[str, list[Task]]:
    """Every variant not used by an example, once: one in VALIDATION_EVERY to validation, in every family."""
    splits: dict[str, list[Task]] = {"train": [], "validation": []}
    counter = 0
    for fam in FAMILIES:
        variants = [p for p in fam.variants if (fam.name, json.dumps(p)) not in taken]
        rng.shuffle(variants)
        for p in variants:
            counter += 1
            splits["validation" if counter % VALIDATION_EVERY == 0 else "train"].append(Task(fam, p))
    for tasks in splits.values():
        rng.shuffle(tasks)
    return splits


def build(seed: int = SEED) -> dict[str, list[tuple[dict[str, Any], Task]]]:
    """Every split's rows, each with its task (for `reference_source`)."""
    rng = random.Random(seed)
    names = [fam.name for fam in FAMILIES]
    assert len(set(names)) == len(names), "family names must be unique"
    examples, taken = example_rows(rng)
    out = {
        "example": [
            (row, Task(next(f for f in FAMILIES if f.name == name), params, script))
            for row, (name, params, script, _) in zip(examples, EXAMPLES, strict=True)
        ]
    }
    for split, tasks in split_tasks(rng, taken).items():
        out[split] = [(make_row(rng, i, task), task) for i, task in enumerate(tasks)]
    prompts = [row["responses_create_params"]["input"][0]["content"] for rows in out.values() for row, _ in rows]
    assert len(set(prompts)) == len(prompts), "two rows share a prompt"
    return out


def render(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=True) + "\n" for row in rows)


def write(out_dir: Path, seed: int = SEED) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for split, rows in build(seed).items():
        path = out_dir / f"{split}.jsonl"
        path.write_bytes(render([row for row, _ in rows]).encode())
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="folder to write into")
    for path in write(parser.parse_args().out):
        print(f"wrote {path}")  # noqa: T201 - a script's report


if __name__ == "__main__":
    main()
