"""phasesweep.torch in-process: what Probes collects, and checkpoints that resume bit for bit."""

from __future__ import annotations

import random

import numpy as np
import pytest

pytest.importorskip("torch")
import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from phasesweep.torch import Probes, deterministic, load_state, save_state  # noqa: E402


class Tiny(nn.Module):
    def __init__(self, vocab: int = 10, d: int = 4, classes: int = 3) -> None:
        super().__init__()
        self.encoder = nn.Embedding(vocab, d)
        self.mix = nn.Linear(d, d)
        self.head = nn.Linear(d, classes)

    def pooled(self, emb: Tensor) -> Tensor:
        return torch.tanh(self.mix(emb)).mean(dim=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.pooled(self.encoder(x)))


def setup(seed: int = 0) -> tuple[Tiny, torch.optim.Optimizer, Tensor, Tensor]:
    deterministic("cpu")
    torch.manual_seed(seed)
    model = Tiny()
    opt = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.1)
    x = torch.randint(0, 10, (12, 5))
    y = torch.randint(0, 3, (12,))
    return model, opt, x, y


def step(model: Tiny, opt: torch.optim.Optimizer, x: Tensor, y: Tensor, clip: float | None = None) -> float:
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    if clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return loss.item()


def test_gradients_are_the_raw_ones_before_clipping_and_the_step() -> None:
    model, opt, x, y = setup()
    probes = Probes(model)
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    grads = [p.grad for p in model.parameters()]
    assert model.encoder.weight.grad is not None and all(g is not None for g in grads)
    raw = model.encoder.weight.grad.clone()
    total = sum(float((g.double() ** 2).sum()) for g in grads if g is not None) ** 0.5
    nn.utils.clip_grad_norm_(model.parameters(), 1e-3)  # scales .grad in place
    opt.step()
    m = probes.matrices(1)
    assert torch.equal(m["embedding_grad"], raw)
    assert probes.scalars()["grad_norm_total"] == pytest.approx(total, rel=1e-12)
    assert torch.equal(m["embedding"], model.encoder.weight.detach())
    assert "embedding_init" not in m and "probe_clean" not in m


def test_embedding_init_is_the_weight_before_training_and_goes_with_epoch_0() -> None:
    model, opt, x, y = setup()
    before = model.encoder.weight.detach().clone()
    probes = Probes(model)
    for _ in range(3):
        step(model, opt, x, y)
    assert torch.equal(probes.matrices(0)["embedding_init"], before)
    assert not torch.equal(probes.matrices(0)["embedding"], before)


def test_probe_noise_is_the_same_draw_every_epoch() -> None:
    model, opt, x, y = setup()
    linear_pool = lambda emb: emb.mean(dim=1)  # noqa: E731 - h(x+ε) - h(x) = mean(ε) exactly
    probes = Probes(model, probe_inputs=x[:6], pooled=linear_pool, noise_scale=0.5, seed=3)
    diffs = []
    for epoch in range(3):
        step(model, opt, x, y)
        m = probes.matrices(epoch)
        assert m["probe_clean"].shape == (6, 4)
        diffs.append(m["probe_noisy"] - m["probe_clean"])
    assert torch.allclose(diffs[0], diffs[1], atol=1e-6) and torch.allclose(diffs[0], diffs[2], atol=1e-6)
    eps = probes._epsilon(model.encoder(x[:6]))
    assert eps.std().item() == pytest.approx(0.5, rel=0.3)
    other = Probes(model, probe_inputs=x[:6], pooled=linear_pool, noise_scale=0.5, seed=4)
    assert not torch.equal(other._epsilon(model.encoder(x[:6])), eps)
    assert model.training


def test_pooled_by_module_name_matches_the_function() -> None:
    model, opt, x, y = setup()
    step(model, opt, x, y)
    by_fn = Probes(model, probe_inputs=x[:5], pooled=model.pooled, seed=9).representations()
    by_name = Probes(model, probe_inputs=x[:5], pooled="head", seed=9).representations()
    assert torch.equal(by_fn[0], by_name[0]) and torch.equal(by_fn[1], by_name[1])
    assert not torch.equal(by_fn[0], by_fn[1])


def test_probes_need_a_2d_embedding_and_a_pooled_function() -> None:
    model, *_ = setup()
    with pytest.raises(ValueError, match="2-D"):
        Probes(nn.Sequential(nn.LayerNorm(4)), embedding="0")  # a 1-D weight
    with pytest.raises(AttributeError):
        Probes(model, embedding="decoder")
    with pytest.raises(ValueError, match="pooled"):
        Probes(model, probe_inputs=torch.zeros(2, 3, dtype=torch.long))


def draws(gens: dict[str, object]) -> list[float]:
    g_torch = gens["t"]
    g_np = gens["n"]
    assert isinstance(g_torch, torch.Generator) and isinstance(g_np, np.random.Generator)
    return [
        torch.rand(1).item(),
        float(np.random.rand()),
        random.random(),
        torch.rand(1, generator=g_torch).item(),
        float(g_np.random()),
    ]


def test_a_checkpoint_resumes_bit_for_bit() -> None:
    model, opt, x, y = setup(seed=1)
    gens: dict[str, object] = {"t": torch.Generator().manual_seed(5), "n": np.random.default_rng(6)}
    for _ in range(3):
        step(model, opt, x, y)
        draws(gens)
    blob = save_state(model, opt, generators=gens, extra={"epoch": 2, "note": "x"})  # type: ignore[arg-type]
    after = []
    for _ in range(3):
        after.append((step(model, opt, x, y), draws(gens)))
    final = {k: v.clone() for k, v in model.state_dict().items()}

    fresh, fresh_opt, _, _ = setup(seed=99)
    fresh_gens: dict[str, object] = {"t": torch.Generator().manual_seed(0), "n": np.random.default_rng(0)}
    np.random.seed(123)
    random.seed(123)
    extra = load_state(blob, fresh, fresh_opt, generators=fresh_gens)  # type: ignore[arg-type]
    assert extra == {"epoch": 2, "note": "x"}
    again = [(step(fresh, fresh_opt, x, y), draws(fresh_gens)) for _ in range(3)]
    assert again == after
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, final[k]), k


def test_load_state_refuses_other_data() -> None:
    model, opt, *_ = setup()
    import io

    buf = io.BytesIO()
    torch.save({"weights": torch.zeros(1)}, buf)
    with pytest.raises(ValueError, match="save_state"):
        load_state(buf.getvalue(), model, opt)
    blob = save_state(model)
    with pytest.raises(ValueError, match="optimiser"):
        load_state(blob, model, opt)
    with pytest.raises(KeyError, match="noise"):
        load_state(blob, model, generators={"noise": torch.Generator()})
