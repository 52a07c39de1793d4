"""PyTorch reference for `npm run bench:engine`: the same model and epoch as the worker.

Token embedding V x d (N(0,1)), one attention block per layer (q, k, v, o without bias,
scores scaled by 1/sqrt(d/heads), residual), a ReLU FFN of width 4d with biases (residual),
mean-pool over the sequence, a linear classifier, full-batch AdamW. Prints the same JSON
shape as bench/engine.ts: {"results": [{"backend", "size", "ms_per_epoch"}]}.

    python3 bench/torch_reference.py [--sizes small,medium,large] [--epochs 10] [--threads 1]
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SIZES = {
    "small": (256, 64, 1024, 16),
    "medium": (1024, 128, 4096, 16),
    "large": (4096, 256, 16384, 32),
}


class Block(nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(d, d, bias=False)
        self.k = nn.Linear(d, d, bias=False)
        self.v = nn.Linear(d, d, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        self.w1 = nn.Linear(d, ffn)
        self.w2 = nn.Linear(ffn, d)

    def forward(self, h):
        b, length, d = h.shape
        dh = d // self.heads

        def split(t):
            return t.view(b, length, self.heads, dh).transpose(1, 2)

        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        att = torch.softmax(q @ k.transpose(-1, -2) / dh**0.5, dim=-1)
        o = (att @ v).transpose(1, 2).reshape(b, length, d)
        h = h + self.o(o)
        return h + self.w2(F.relu(self.w1(h)))


class Model(nn.Module):
    def __init__(self, vocab, d, classes, heads=1, layers=1):
        super().__init__()
        self.encoder = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(Block(d, heads, 4 * d) for _ in range(layers))
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        h = self.encoder(x)
        for blk in self.blocks:
            h = blk(h)
        return self.head(h.mean(dim=1))


def bench(device, size, epochs):
    vocab, d, n, length = SIZES[size]
    torch.manual_seed(0)
    x = torch.randint(0, vocab, (n, length), device=device)
    y = torch.randint(0, 4, (n,), device=device)
    model = Model(vocab, d, 4).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    times = []
    for _ in range(epochs + 1):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        # The worker reads the embedding gradient norm and the loss every epoch.
        model.encoder.weight.grad.norm().item()
        opt.step()
        loss.item()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times[1:])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="small,medium,large")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results = []
    for device in devices:
        for size in args.sizes.split(","):
            backend = f"torch-{device}" + (f"-{args.threads}t" if device == "cpu" else "")
            results.append(
                {
                    "backend": backend,
                    "size": ",".join(map(str, SIZES[size])),
                    "ms_per_epoch": round(bench(device, size, args.epochs), 1),
                }
            )
    print(json.dumps({"epochs": args.epochs, "results": results}, indent=2))


if __name__ == "__main__":
    main()
