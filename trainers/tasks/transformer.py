"""The paper's Transformer LM as a pure function of one flat parameter vector.

Pre-norm decoder blocks (causal multi-head attention, ReLU FFN), learned positions, untied
output head: ~1.68M parameters at d = 128, 2 layers, vocab 5000. Written with plain tensor
ops so forward-over-reverse and double-backward both work.
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F

from fitting.errors import InvalidInputError
from trainers.config import TransformerConfig
from trainers.corpus import Tokenizer, generate_stories, load_corpus, make_sequences, perturb
from trainers.tasks.base import LossFn, Split, Task

ParamSpec = list[tuple[str, tuple[int, ...]]]


def param_spec(cfg: TransformerConfig, vocab: int) -> ParamSpec:
    d, f = cfg.d_model, cfg.d_model * cfg.ffn_mult
    spec: ParamSpec = [("tok_emb", (vocab, d)), ("pos_emb", (cfg.context, d))]
    for i in range(cfg.n_layers):
        spec += [
            (f"h{i}.ln1.w", (d,)), (f"h{i}.ln1.b", (d,)),
            (f"h{i}.qkv.w", (d, 3 * d)), (f"h{i}.qkv.b", (3 * d,)),
            (f"h{i}.proj.w", (d, d)), (f"h{i}.proj.b", (d,)),
            (f"h{i}.ln2.w", (d,)), (f"h{i}.ln2.b", (d,)),
            (f"h{i}.fc1.w", (d, f)), (f"h{i}.fc1.b", (f,)),
            (f"h{i}.fc2.w", (f, d)), (f"h{i}.fc2.b", (d,)),
        ]  # fmt: skip
    spec += [("ln_f.w", (d,)), ("ln_f.b", (d,)), ("head.w", (d, vocab))]
    return spec


def init_params(spec: ParamSpec, n_layers: int, generator: torch.Generator) -> torch.Tensor:
    """GPT-2 style: N(0, 0.02) weights, residual projections scaled by 1/sqrt(2 layers)."""
    parts = []
    for name, shape in spec:
        if name.endswith(".b"):
            parts.append(torch.zeros(shape))
        elif ".ln" in name or name.startswith("ln_f"):
            parts.append(torch.ones(shape))
        else:
            std = 0.02 / math.sqrt(2 * n_layers) if name.endswith(("proj.w", "fc2.w")) else 0.02
            parts.append(torch.randn(shape, generator=generator) * std)
    return torch.cat([p.reshape(-1) for p in parts]).to(torch.float64)


def make_loss_fn(spec: ParamSpec, cfg: TransformerConfig) -> LossFn:
    sizes = [math.prod(shape) for _, shape in spec]
    heads = cfg.n_heads

    def loss_fn(theta: torch.Tensor, seqs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-sequence mean next-token cross-entropy (nats) over non-padding targets: (n,)."""
        p = {name: t.view(shape) for (name, shape), t in zip(spec, torch.split(theta, sizes), strict=True)}
        tokens, targets, weight = seqs[:, :-1], seqs[:, 1:], mask[:, 1:]
        n, length = tokens.shape
        x = p["tok_emb"][tokens] + p["pos_emb"][:length]  # (n, L, d)
        d = x.shape[-1]
        causal = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
        for i in range(cfg.n_layers):
            h = F.layer_norm(x, (d,), p[f"h{i}.ln1.w"], p[f"h{i}.ln1.b"])
            q, k, v = (h @ p[f"h{i}.qkv.w"] + p[f"h{i}.qkv.b"]).split(d, dim=-1)
            q, k, v = (t.view(n, length, heads, d // heads).transpose(1, 2) for t in (q, k, v))  # (n, H, L, dh)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(d // heads)
            att = torch.softmax(att.masked_fill(~causal, float("-inf")), dim=-1)
            y = (att @ v).transpose(1, 2).reshape(n, length, d)
            x = x + y @ p[f"h{i}.proj.w"] + p[f"h{i}.proj.b"]
            h = F.layer_norm(x, (d,), p[f"h{i}.ln2.w"], p[f"h{i}.ln2.b"])
            x = x + torch.relu(h @ p[f"h{i}.fc1.w"] + p[f"h{i}.fc1.b"]) @ p[f"h{i}.fc2.w"] + p[f"h{i}.fc2.b"]
        logits = F.layer_norm(x, (d,), p["ln_f.w"], p["ln_f.b"]) @ p["head.w"]  # (n, L, V)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
        ce = ce.view(n, length) * weight
        return ce.sum(dim=1) / weight.sum(dim=1).clamp_min(1.0)

    return loss_fn


def build_transformer(
    cfg: TransformerConfig, *, holdout: float, seed: int, device: torch.device, dtype: torch.dtype
) -> Task:
    length = cfg.context + 1
    n_eval = cfg.desired_size + cfg.test_size
    if cfg.corpus is None:
        per_story = 95  # tokens of a generated story, so enough stories are made
        need = (cfg.train_size + n_eval) * length
        stories = generate_stories(int(need / per_story * 1.2) + 10, seed=seed)
    else:
        stories = load_corpus(cfg.corpus)
    rng = random.Random(seed)
    rng.shuffle(stories)
    # held-out stories for the desired and test sets: about their share of the text
    cut = max(1, round(len(stories) * n_eval / (cfg.train_size + n_eval)))
    eval_stories, train_stories = stories[:cut], stories[cut:]
    tokenizer = Tokenizer.train(train_stories, cfg.vocab_size)
    train_seqs = make_sequences(train_stories, tokenizer, length)
    eval_seqs = make_sequences(eval_stories, tokenizer, length)
    if len(train_seqs) < cfg.train_size:
        raise InvalidInputError(
            f"the corpus yields {len(train_seqs)} training sequences of {length} tokens, fewer than {cfg.train_size}",
            field="transformer.train_size",
        )
    if len(eval_seqs) < n_eval:
        raise InvalidInputError(
            f"the corpus yields {len(eval_seqs)} held-out sequences, fewer than desired + test = {n_eval}",
            field="transformer.desired_size",
        )
    rng.shuffle(train_seqs)
    train_seqs = train_seqs[: cfg.train_size]
    noisy = set(rng.sample(range(cfg.train_size), round(cfg.perturb_share * cfg.train_size)))
    train_seqs = [
        perturb(s, cfg.perturb_ops, tokenizer.vocab_size, rng) if i in noisy else s for i, s in enumerate(train_seqs)
    ]

    def split(seqs: list[list[int]]) -> Split:
        tokens = torch.tensor(seqs, dtype=torch.long, device=device)
        return Split(tokens, (tokens != 0).to(dtype))

    n_hold = math.floor(cfg.desired_size * holdout)
    desired_all = eval_seqs[: cfg.desired_size]
    spec = param_spec(cfg, tokenizer.vocab_size)
    theta0 = init_params(spec, cfg.n_layers, torch.Generator().manual_seed(seed))
    return Task(
        name="transformer_lm",
        loss_fn=make_loss_fn(spec, cfg),
        theta0=theta0.to(device, dtype),
        train=split(train_seqs),
        desired=split(desired_all[n_hold:]),
        holdout=split(desired_all[:n_hold]),
        test=split(eval_seqs[cfg.desired_size : n_eval]),
        label_space=tokenizer.vocab_size,
        micro_batch=cfg.micro_batch,
    )
