"""The training loop `npm run bench:trainer` measures, bare or under phasesweep.

The model and data of bench/torch_reference.py (token embedding `encoder`, one attention block,
FFN, mean-pool, linear head; random tokens and labels; full-batch AdamW), one CPU thread. Each
epoch: the training step, then the loss and accuracy on a held-out split, as any loop reports.

    python3 bench/trainer_loop.py --bare --size small --epochs 40   # prints {"ms_per_epoch", ...}
    python3 bench/trainer_loop.py --size small                      # as a phasesweep trainer

Under phasesweep the loop also reports every epoch: the four scalars, the embedding, its
gradient and the probe set's clean and noisy representations (phasesweep.torch.Probes), from
which the worker computes every probe. Epoch timing there is taken by the worker.
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import SIZES, Model  # noqa: E402

SIZES = {**SIZES, "quickstart": (64, 16, 256, 8)}


def data(size, seed):
    vocab, _, n, length = SIZES[size]
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, vocab, (n, length), generator=g)
    y = torch.randint(0, 4, (n,), generator=g)
    xv = torch.randint(0, vocab, (n // 4, length), generator=g)
    yv = torch.randint(0, 4, (n // 4,), generator=g)
    return x, y, xv, yv


def epoch_step(model, opt, x, y, xv, yv):
    model.train()
    opt.zero_grad(set_to_none=True)
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    opt.step()
    model.eval()
    with torch.no_grad():
        val_logits = model(xv)
        scalars = {
            "loss": loss.item(),
            "train_acc": (logits.argmax(1) == y).float().mean().item(),
            "val_loss": F.cross_entropy(val_logits, yv).item(),
            "val_acc": (val_logits.argmax(1) == yv).float().mean().item(),
        }
    return scalars


def build(size, seed):
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    vocab, d, _, _ = SIZES[size]
    model = Model(vocab, d, 4)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    return model, opt, data(size, seed)


def bare(size, epochs, warmup):
    model, opt, (x, y, xv, yv) = build(size, 0)
    ends = []
    for _ in range(epochs):
        epoch_step(model, opt, x, y, xv, yv)
        ends.append(time.perf_counter())
    ms = (ends[-1] - ends[warmup - 1]) * 1000 / (epochs - warmup)
    vocab, d, _, _ = SIZES[size]
    print(json.dumps({"ms_per_epoch": ms, "epochs": epochs}))


def under_phasesweep(size):
    import phasesweep
    from phasesweep.torch import Probes

    trial = phasesweep.connect()
    model, opt, (x, y, xv, yv) = build(size, trial.seed)
    probes = Probes(
        model,
        embedding="encoder",
        probe_inputs=x[: trial.probes.probe_set],
        pooled="head",
        noise_scale=trial.probes.noise_scale,
        seed=trial.seed,
    )
    for epoch in trial:
        scalars = epoch_step(model, opt, x, y, xv, yv)
        trial.report(epoch, {**scalars, **probes.scalars()}, probes.matrices(epoch))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bare", action="store_true")
    p.add_argument("--size", default="small", choices=sorted(SIZES))
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    args = p.parse_args()
    if args.bare:
        bare(args.size, args.epochs, args.warmup)
    else:
        under_phasesweep(args.size)


if __name__ == "__main__":
    main()
