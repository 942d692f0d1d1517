"""Text for the LM task: a local corpus, a corpus shipped with the package, or a seeded
TinyStories-like generator; a word-level tokenizer trained on it, fixed-length sequences, and
the paper's perturbations.

Nothing is downloaded: a corpus is one local .txt (stories separated by blank lines, or one
per line) or .jsonl (a "text" field per line) file, or "builtin:NAME", a text shipped in
trainers/data/ (its README gives each one's source and licence).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from fitting.errors import InvalidInputError

PAD, UNK, EOS = "[PAD]", "[UNK]", "[EOS]"
BUILTIN = "builtin:"
_DATA = Path(__file__).with_name("data")
# Jane Austen, Pride and Prejudice (1813; public domain), from the Debian package r-cran-janeaustenr
BUILTIN_CORPORA = {"pride-and-prejudice": _DATA / "pride_and_prejudice.txt"}
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|[0-9]+|[^\sa-z0-9]")

_NAMES = ["Lily", "Tom", "Mia", "Ben", "Sue", "Max", "Anna", "Sam", "Lucy", "Tim", "Zoe", "Jack"]
_ANIMALS = ["cat", "dog", "bird", "bunny", "frog", "duck", "bear", "fox", "mouse", "pony"]
_THINGS = ["ball", "kite", "box", "cake", "hat", "toy", "book", "boat", "flower", "cup", "drum", "car"]
_PLACES = ["park", "garden", "forest", "house", "beach", "school", "farm", "lake", "hill", "shop"]
_ADJ = ["big", "small", "red", "blue", "happy", "sad", "shiny", "soft", "funny", "little", "green", "old"]
_FEEL = ["happy", "sad", "scared", "proud", "tired", "excited", "angry", "surprised"]
_VERB = ["played", "ran", "jumped", "danced", "sang", "walked", "laughed", "looked around"]
_OPEN = ["Once upon a time", "One day", "Long ago", "One sunny morning", "Yesterday"]


def generate_stories(n: int, seed: int = 0) -> list[str]:
    """n short stories from a seeded grammar: a small vocabulary with real structure."""
    rng = random.Random(seed)
    stories = []
    for _ in range(n):
        hero, friend = rng.sample(_NAMES, 2)
        animal, thing, place = rng.choice(_ANIMALS), rng.choice(_THINGS), rng.choice(_PLACES)
        adj, feel, verb = rng.choice(_ADJ), rng.choice(_FEEL), rng.choice(_VERB)
        sentences = [
            f"{rng.choice(_OPEN)}, there was a {adj} {animal} named {hero}.",
            f"{hero} lived near the {place} and loved a {rng.choice(_ADJ)} {thing}.",
            f"One day {hero} went to the {place} with {friend}.",
            f"They {verb} and {rng.choice(_VERB)} all day.",
        ]
        if rng.random() < 0.5:
            sentences.append(f"Then the {thing} was lost and {hero} felt {rng.choice(_FEEL)}.")
            sentences.append(f"{friend} helped {hero} find the {thing} under a {rng.choice(_ADJ)} tree.")
        else:
            sentences.append(f"{friend} gave {hero} a {rng.choice(_ADJ)} {rng.choice(_THINGS)}.")
            sentences.append(f'"Thank you," said {hero}. "You are my best friend."')
        sentences.append(f"At the end of the day, {hero} was {feel} and went home.")
        stories.append(" ".join(sentences))
    return stories


def is_builtin(corpus: str) -> bool:
    return corpus.startswith(BUILTIN)


def corpus_file(corpus: str, field: str = "corpus") -> Path:
    """The file a corpus names: "builtin:NAME" (shipped in trainers/data/), else a path."""
    if not is_builtin(corpus):
        return Path(corpus)
    name = corpus.removeprefix(BUILTIN)
    if name not in BUILTIN_CORPORA:
        known = ", ".join(BUILTIN + k for k in BUILTIN_CORPORA)
        raise InvalidInputError(f"unknown built-in corpus {corpus!r}; choose one of {known}", field=field)
    return BUILTIN_CORPORA[name]


def load_corpus(path: str) -> list[str]:
    """Stories from a .txt (blank-line separated, else one per line) or .jsonl ("text") file,
    or from a built-in corpus ("builtin:NAME": one paragraph a story)."""
    file = corpus_file(path)
    if not file.is_file():
        raise InvalidInputError(f"no such file: {path}", field="corpus")
    raw = file.read_text(encoding="utf-8", errors="replace")
    if file.suffix == ".jsonl":
        stories = []
        for i, line in enumerate(raw.splitlines()):
            if not line.strip():
                continue
            try:
                stories.append(str(json.loads(line)["text"]))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InvalidInputError(
                    f"line {i + 1} is not a JSON object with a 'text' field", field="corpus"
                ) from exc
    else:
        blocks = [b for b in re.split(r"\n\s*\n", raw) if b.strip()]
        stories = blocks if len(blocks) > 1 else raw.splitlines()
    stories = [s.strip() for s in stories if s.strip()]
    if not stories:
        raise InvalidInputError(f"corpus has no text: {path}", field="corpus")
    return stories


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


@dataclass(frozen=True)
class Tokenizer:
    """Word-level vocabulary capped at vocab_size, with [PAD] = 0, [UNK] = 1, [EOS] = 2."""

    words: tuple[str, ...]

    @classmethod
    def train(cls, stories: list[str], vocab_size: int) -> Tokenizer:
        counts = Counter(tok for story in stories for tok in tokenize(story))
        keep = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][: vocab_size - 3]
        return cls((PAD, UNK, EOS, *keep))

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def encode(self, text: str) -> list[int]:
        index = {w: i for i, w in enumerate(self.words)}
        return [index.get(tok, 1) for tok in tokenize(text)] + [2]


def make_sequences(stories: list[str], tokenizer: Tokenizer, length: int) -> list[list[int]]:
    """Consecutive windows of `length` tokens over the concatenated token stream."""
    stream: list[int] = []
    index = {w: i for i, w in enumerate(tokenizer.words)}
    for story in stories:
        stream.extend(index.get(tok, 1) for tok in tokenize(story))
        stream.append(2)
    return [stream[i : i + length] for i in range(0, len(stream) - length + 1, length)]


def perturb(seq: list[int], ops: int, vocab_size: int, rng: random.Random) -> list[int]:
    """The paper's noise: `ops` random operations, each replacing a token by a random one,
    deleting the last token, or repeating a token; the result is padded/cut to len(seq)."""
    out = list(seq)
    for _ in range(ops):
        op = rng.randrange(3)
        if op == 0 and out:
            out[rng.randrange(len(out))] = rng.randrange(3, vocab_size)
        elif op == 1 and len(out) > 2:
            out.pop()
        elif out:
            i = rng.randrange(len(out))
            out.insert(i, out[i])
    out = out[: len(seq)]
    return out + [0] * (len(seq) - len(out))
