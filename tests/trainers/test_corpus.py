"""The LM's text: the built-in corpus is the book its README says it is and loads by name; local
files load as blank-line paragraphs, lines or JSON lines; a bad name or line is refused naming it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from fitting.errors import InvalidInputError
from trainers.config import RunSpec
from trainers.corpus import BUILTIN_CORPORA, Tokenizer, corpus_file, load_corpus, tokenize
from trainers.tasks.transformer import build_transformer

from .conftest import CPU, TINY_LM

AUSTEN = "builtin:pride-and-prejudice"
README = Path(__file__).resolve().parents[2] / "trainers" / "data" / "README.md"


def test_the_built_in_corpus_is_the_file_its_readme_describes() -> None:
    text = README.read_text()
    for name, path in BUILTIN_CORPORA.items():
        assert f"`builtin:{name}`" in text and path.name in text, name
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest in text, f"{path.name}: sha256 {digest} is not the one the README gives"
        assert path.stat().st_size < 2 * 2**20  # the repository ships extracts, not libraries


def test_the_built_in_corpus_loads_by_name_as_the_novels_paragraphs() -> None:
    paragraphs = load_corpus(AUSTEN)
    assert len(paragraphs) == 2126
    assert paragraphs[0] == "PRIDE AND PREJUDICE"
    assert paragraphs[3].startswith("It is a truth universally acknowledged, that a single man in possession")
    assert sum(len(tokenize(p)) for p in paragraphs) == 145738
    words = Tokenizer.train(paragraphs, 12).words[3:]
    assert set(words) >= {"the", "to", "of", "and"}  # English, the way English is usually counted


def test_an_unknown_built_in_corpus_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InvalidInputError) as err:
        corpus_file("builtin:moby-dick")
    assert err.value.field == "corpus" and AUSTEN in str(err.value)
    spec = RunSpec(task="transformer_lm", transformer=replace(TINY_LM, corpus="builtin:moby-dick"))
    with pytest.raises(InvalidInputError) as err:
        spec.validate()
    assert err.value.field == "transformer.corpus"
    RunSpec(task="transformer_lm", transformer=replace(TINY_LM, corpus=AUSTEN)).validate()


def test_an_lm_task_on_the_book_holds_out_whole_paragraphs() -> None:
    cfg = replace(TINY_LM, corpus=AUSTEN, vocab_size=200, train_size=64, desired_size=16, test_size=16)
    task = build_transformer(cfg, holdout=0.25, seed=1, device=CPU, dtype=torch.float32)
    assert task.label_space == 200 and task.n_train == 64
    assert (len(task.desired), len(task.holdout), len(task.test)) == (12, 4, 16)
    again = build_transformer(cfg, holdout=0.25, seed=1, device=CPU, dtype=torch.float32)
    assert bool((again.test.inputs == task.test.inputs).all())  # the seed decides the split
    other = build_transformer(cfg, holdout=0.25, seed=2, device=CPU, dtype=torch.float32)
    assert not bool((other.test.inputs == task.test.inputs).all())


def test_local_files_load_as_paragraphs_lines_or_json_lines(tmp_path: Path) -> None:
    paragraphs = tmp_path / "a.txt"
    paragraphs.write_text("One story\nstill the first.\n\n\nThe second.\n")
    assert load_corpus(str(paragraphs)) == ["One story\nstill the first.", "The second."]
    lines = tmp_path / "b.txt"
    lines.write_text("first\nsecond\n\n")
    assert load_corpus(str(lines)) == ["first", "second"]
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text('{"text": "one"}\n\n{"text": "two"}\n')
    assert load_corpus(str(jsonl)) == ["one", "two"]


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("bad.jsonl", '{"text": "one"}\n["two"]\n', "line 2 is not a JSON object with a 'text' field"),
        ("blank.txt", "\n \n\n", "corpus has no text"),
    ],
)
def test_a_bad_local_file_is_refused_naming_what_is_wrong(tmp_path: Path, name: str, content: str, says: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InvalidInputError, match=re.escape(says)) as err:
        load_corpus(str(path))
    assert err.value.field == "corpus"
