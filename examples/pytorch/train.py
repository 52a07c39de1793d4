"""A tiny transformer classifier trained as a phasesweep trial: the plain PyTorch loop of the
source posts, plus the dozen lines that make it report to a phasesweep worker.

Model: token embedding `encoder` (V × d), `model.layers` attention blocks (residual, no layer
norm), a ReLU feed-forward of width `model.ffn`, mean pooling, a linear head, initialised as the
built-in engine's (embedding N(0, 1), weights N(0, 1/fan_in), biases 0); full-batch AdamW
(decoupled weight decay from `train.weight_decay_start_epoch` on), Gaussian noise of std
`train.noise` on the input embeddings while training. Tasks, generated from the trial seed:

- clustered-tokens: the V tokens are split into K balanced latent clusters round-robin over a
  seeded permutation (token perm[i] is in cluster i mod K). Each sequence draws a dominant
  cluster; each of its L tokens comes from that cluster with probability 1/2, else uniformly
  from the vocabulary. Label: the most frequent cluster in the sequence, ties to the lowest
  id; `label_noise` replaces that many training labels (only) by a uniform class.
- modular-addition: inputs `a b =` (V = p + 1, "=" is token p), label (a + b) mod p; a seeded
  `train_fraction` of all p² pairs trains (floor, at least 1, at most p² − 1), the rest is held out.

Run it through a sweep: `phasesweep run examples/pytorch/sweep.yaml`. It cannot run alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import phasesweep
from phasesweep.torch import Probes, deterministic, load_state, save_state

DOMINANT_SHARE = 0.5


@dataclass
class Task:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    vocab: int
    classes: int
    clusters: np.ndarray | None  # latent cluster of each token, for cluster_purity


def majority_cluster(tokens: np.ndarray, clusters: np.ndarray, k: int) -> np.ndarray:
    """The most frequent latent cluster of each row of `tokens`; argmax takes the lowest id on ties."""
    counts = (clusters[tokens][..., None] == np.arange(k)).sum(axis=1)
    return counts.argmax(axis=1)


def clustered_tokens(task: dict[str, Any], rng: np.random.Generator) -> Task:
    v, k, length = task.get("vocab", 64), task.get("clusters", 4), task.get("seq_len", 8)
    clusters = np.empty(v, dtype=np.int64)
    clusters[rng.permutation(v)] = np.arange(v) % k
    members = [np.flatnonzero(clusters == c) for c in range(k)]
    sizes = np.array([len(m) for m in members])
    table = np.stack([np.resize(m, sizes.max()) for m in members])  # padded; indices stay < size

    def draw(n: int, label_noise: float) -> tuple[np.ndarray, np.ndarray]:
        dominant = rng.integers(k, size=n)
        pick = (rng.random((n, length)) * sizes[dominant][:, None]).astype(np.int64)
        from_dominant = rng.random((n, length)) < DOMINANT_SHARE
        uniform = rng.integers(v, size=(n, length))
        x = np.where(from_dominant, table[dominant[:, None], pick], uniform)
        y = majority_cluster(x, clusters, k)
        flip = rng.random(n) < label_noise
        return x, np.where(flip, rng.integers(k, size=n), y)

    x_train, y_train = draw(task.get("train_size", 512), task.get("label_noise", 0.0))
    x_val, y_val = draw(task.get("val_size", 256), 0.0)
    return Task(x_train, y_train, x_val, y_val, v, k, clusters)


def modular_addition(task: dict[str, Any], rng: np.random.Generator) -> Task:
    p = task.get("modulus", 23)
    pairs = rng.permutation(p * p)
    n_train = min(p * p - 1, max(1, int(task.get("train_fraction", 0.4) * p * p)))
    a, b = pairs // p, pairs % p
    x = np.stack([a, b, np.full_like(a, p)], axis=1)
    y = (a + b) % p
    return Task(x[:n_train], y[:n_train], x[n_train:], y[n_train:], p + 1, p, None)


def make_task(task: dict[str, Any], seed: int) -> Task:
    rng = np.random.default_rng(phasesweep.derive_seed(seed, "task"))
    if task["kind"] == "clustered-tokens":
        return clustered_tokens(task, rng)
    if task["kind"] == "modular-addition":
        return modular_addition(task, rng)
    raise ValueError(f"task.kind {task['kind']!r}: this example knows clustered-tokens and modular-addition")


class Block(nn.Module):
    def __init__(self, d: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))
        self.w1, self.w2 = nn.Linear(d, ffn), nn.Linear(ffn, d)

    def forward(self, h: Tensor) -> Tensor:
        n, length, d = h.shape
        dh = d // self.heads
        q, k, v = (w(h).view(n, length, self.heads, dh).transpose(1, 2) for w in (self.q, self.k, self.v))
        att = torch.softmax(q @ k.transpose(-1, -2) / dh**0.5, dim=-1)
        h = h + self.o((att @ v).transpose(1, 2).reshape(n, length, d))
        return h + self.w2(F.relu(self.w1(h)))


class Classifier(nn.Module):
    def __init__(self, vocab: int, classes: int, d: int, heads: int, layers: int, ffn: int) -> None:
        super().__init__()
        self.encoder = nn.Embedding(vocab, d)  # N(0, 1)
        self.blocks = nn.ModuleList(Block(d, heads, ffn) for _ in range(layers))
        self.head = nn.Linear(d, classes)
        # As the built-in engine: weights N(0, 1/fan_in), biases 0 (torch's default is uniform).
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=module.in_features**-0.5)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def pooled(self, emb: Tensor) -> Tensor:
        """h(x): the mean-pooled representation of the input embeddings that feeds the head."""
        for block in self.blocks:
            emb = block(emb)
        return emb.mean(dim=1)

    def forward(self, tokens: Tensor, noise: Tensor | None = None) -> Tensor:
        emb = self.encoder(tokens)
        return self.head(self.pooled(emb if noise is None else emb + noise))


@torch.no_grad()
def evaluate(model: nn.Module, x: Tensor, y: Tensor) -> tuple[float, float]:
    logits = model(x)
    return F.cross_entropy(logits, y).item(), (logits.argmax(dim=1) == y).float().mean().item()


def main() -> None:
    trial = phasesweep.connect()
    cfg = trial.config
    train, m = cfg["train"], cfg.get("model", {})
    device = torch.device(trial.device)
    deterministic(device)  # one CPU thread, deterministic kernels: reports repeat bit for bit

    data = make_task(cfg["task"], trial.seed)
    x_train, y_train, x_val, y_val = (
        torch.from_numpy(a).to(device) for a in (data.x_train, data.y_train, data.x_val, data.y_val)
    )
    torch.manual_seed(trial.seed_for("init"))
    d = m.get("d_model", 32)
    model = Classifier(data.vocab, data.classes, d, m.get("heads", 1), m.get("layers", 1), m.get("ffn", 128))
    model.to(device)
    weight_decay, wd_start = train.get("weight_decay", 0.0), train.get("weight_decay_start_epoch", 0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.get("lr", 0.01), weight_decay=weight_decay)
    noise_std, batch_size = train.get("noise", 0.0), train.get("batch_size")
    generators = {
        "input-noise": torch.Generator().manual_seed(trial.seed_for("input-noise")),
        "batch-order": torch.Generator().manual_seed(trial.seed_for("batch-order")),
    }

    # phasesweep: probe matrices, checkpoints, resume.
    probes = Probes(
        model,
        embedding="encoder",
        probe_inputs=x_train[: trial.probes.probe_set],
        pooled=model.pooled,
        noise_scale=trial.probes.noise_scale,
        seed=trial.seed,
    )
    trial.on_checkpoint(lambda: save_state(model, optimizer, generators=generators))
    if trial.checkpoint is not None:
        load_state(trial.checkpoint, model, optimizer, generators=generators, map_location=device)

    n = len(x_train)
    for epoch in trial:
        for group in optimizer.param_groups:
            group["weight_decay"] = weight_decay if epoch >= wd_start else 0.0
        model.train()
        batches: list[Any] = [slice(None)]  # full batch
        if batch_size:
            batches = list(torch.randperm(n, generator=generators["batch-order"]).to(device).split(batch_size))
        total = 0.0
        for batch in batches:
            xb, yb = x_train[batch], y_train[batch]
            noise = None
            if noise_std > 0:
                noise = torch.randn((*xb.shape, d), generator=generators["input-noise"]) * noise_std
                noise = noise.to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb, noise), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
        model.eval()
        _, train_acc = evaluate(model, x_train, y_train)
        val_loss, val_acc = evaluate(model, x_val, y_val)
        scalars = {"loss": total / n, "train_acc": train_acc, "val_loss": val_loss, "val_acc": val_acc}
        if epoch % 100 == 0 or epoch == trial.epochs - 1:
            print(f"epoch {epoch} | loss {scalars['loss']:.4f} | val_acc {val_acc:.3f}", flush=True)
        trial.report(epoch, {**scalars, **probes.scalars()}, probes.matrices(epoch), clusters=data.clusters)


if __name__ == "__main__":
    main()
