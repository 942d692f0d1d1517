"""How much memory a run will need at its peak, estimated from its configuration alone, so a
server can refuse a job that cannot fit before it starts (instead of a raw allocator error, or
a 736 GiB MemoryError, minutes later).

A deliberately generous estimate: each term is the largest thing that phase holds, times a
factor for the copies autograd keeps; the terms are added as if they were all held at once.
"""

from __future__ import annotations

import math
from pathlib import Path

from trainers.config import RunSpec

RUNTIME_BYTES = 600 * 2**20  # the interpreter, torch, numpy and scipy loaded: measured ~450-550 MiB RSS
FIT_BYTES_PER_POINT_RESAMPLE = 400  # fitting/'s bootstrap peak: 160-350 bytes measured
AUTOGRAD_COPIES = 4  # a double-backward keeps the graph of the gradient's graph
CORPUS_BYTES_PER_FILE_BYTE = 12
GENERATED_VOCABULARY = 256  # text as Python strings, token lists and the tokenizer's counts


def estimate_peak_bytes(spec: RunSpec) -> int:
    """An upper estimate of the run's peak memory, in bytes (host memory; device memory on cuda)."""
    element = 8 if spec.resolved_dtype == "float64" else 4
    steps, searching = spec.steps, spec.search.outer_iters > 0
    if spec.task == "perceptron":
        p = spec.perceptron
        n_train, n_params = p.train_size, p.dim
        examples = p.train_size + p.desired_size + p.test_size
        data = examples * p.dim * 8 * 2  # drawn in float64, then moved to the run's dtype
        activations = p.train_size * (p.dim + 4) * element * AUTOGRAD_COPIES  # one micro-batch is the whole set
        text = 0
    else:
        t = spec.transformer
        # the generated stories use a few hundred words whatever vocab_size allows
        vocab = t.vocab_size if t.corpus is not None else min(t.vocab_size, GENERATED_VOCABULARY)
        d, length, hidden = t.d_model, t.context, t.d_model * t.ffn_mult
        n_train = t.train_size
        n_params = 2 * vocab * d + length * d + t.n_layers * (4 * d * d + 2 * d * hidden + 9 * d + hidden) + 2 * d
        examples = t.train_size + t.desired_size + t.test_size
        data = examples * (length + 1) * (8 + element)  # token ids and the padding mask
        batch = min(t.micro_batch, examples)
        per_layer = batch * length * (12 * d + 2 * hidden + 3 * t.n_heads * length)
        logits = batch * length * vocab * 3  # logits, softmax, its gradient
        activations = (t.n_layers * per_layer + logits) * element * AUTOGRAD_COPIES
        text = _corpus_bytes(t.corpus, examples * (length + 1))
    searched = steps + spec.search.extend_steps if searching else steps
    # gamma, dJ/dgamma, the step, the best policy; the perceptron's fused adjoint adds p_t and Z g_{t+1}
    per_row = (6 if spec.task == "perceptron" else 4) if searching else 1
    parts = spec.search.agreement_splits
    if searching and parts > 1:  # each part's gradient twice (as computed, then stacked), signs and the mask
        per_row += 2 * parts + 3
    gamma = searched * n_train * element * per_row
    held = searched + 1 if spec.task == "perceptron" else 2 * math.ceil(math.sqrt(searched)) + 4
    snapshots = (held if searching else 4) * n_params * element
    every = spec.search.diagnostics_every or max(1, steps // 50)
    diagnostics = math.ceil(steps / every) * n_train * 8 * 2
    curves = (steps + 1) * 4 * 8 * 4  # per policy, as tensors, arrays and lists
    fit = 2 * steps * max(1, spec.bootstrap) * FIT_BYTES_PER_POINT_RESAMPLE
    return RUNTIME_BYTES + data + activations + text + gamma + snapshots + diagnostics + curves + fit


def _corpus_bytes(corpus: str | None, tokens: int) -> int:
    if corpus is None:
        return tokens * 60  # generated stories, as text and token lists
    try:
        size = Path(corpus).stat().st_size
    except OSError:
        size = 0  # the run's own check reports it
    return size * CORPUS_BYTES_PER_FILE_BYTE
