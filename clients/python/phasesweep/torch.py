"""PyTorch helpers: the probe matrices a phasesweep worker computes its probes from, and
checkpoints holding model, optimiser and every random generator, for bit-identical resumes.
"""

from __future__ import annotations

import io
import math
import os
import random
from collections.abc import Callable, Mapping
from typing import Any, Union

import numpy as np
import torch
from torch import Tensor, nn

from .trial import derive_seed

__all__ = ["Probes", "deterministic", "load_state", "save_state"]

#: The generators a checkpoint carries besides the global ones, by a name of your choice.
Generators = Mapping[str, Union[torch.Generator, np.random.Generator]]


def deterministic(device: str | torch.device = "cpu", *, threads: int = 1) -> None:
    """Makes training on `device` repeat bit for bit (docs/trainer-protocol.md, Determinism).

    CPU: `threads` intra-op threads (1 by default) and deterministic algorithms. CUDA: cuBLAS's
    fixed workspace (CUBLAS_WORKSPACE_CONFIG; call this before the first CUDA operation) and
    deterministic algorithms, warning rather than failing on an operation that has none.
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    else:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=dev.type == "cuda")


class Probes:
    """Collects what the worker needs for the shared probes of one model.

    - `embedding` (the token embedding W_t after the step), `embedding_init` (W_{-1}, captured
      when Probes is created, sent with epoch 0), `embedding_grad` (G_t) and `grad_norm_total`
      (‖∇θ L‖). Gradients are captured by hooks as each backward pass accumulates them, so they
      are the raw ones, before any clipping or optimiser step; with several backward passes in
      an epoch (minibatches, accumulation) the last pass counts.
    - `probe_clean` / `probe_noisy`: h(x) and h(x + ε) on the fixed `probe_inputs`, ε ~ N(0, s²)
      on the input embeddings, s = `noise_scale`, the same draws every epoch (a CPU generator
      seeded from `seed`). `pooled` says what h is: a function from the input embeddings
      [n, L, d] to the pooled representation [n, k], or the name of the module whose input is
      that representation (e.g. "head"), in which case ε is added by a hook on the embedding.

    The probe passes run under `torch.no_grad()` in eval mode (restored afterwards).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        embedding: str = "encoder",
        probe_inputs: Tensor | None = None,
        pooled: Callable[[Tensor], Tensor] | str | None = None,
        noise_scale: float = 0.1,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.embedding_module = model.get_submodule(embedding)
        weight = getattr(self.embedding_module, "weight", None)
        if not isinstance(weight, nn.Parameter) or weight.dim() != 2:
            raise ValueError(f"model.{embedding} has no 2-D `weight` parameter (a V × d token embedding)")
        if probe_inputs is not None and pooled is None:
            raise ValueError("probe_inputs needs pooled=: a function of the input embeddings, or a module name")
        self.weight: nn.Parameter = weight
        self.embedding_init = weight.detach().clone()
        self.probe_inputs = probe_inputs
        self.noise_scale = float(noise_scale)
        self._pooled = pooled
        self._noise_seed = derive_seed(seed, "probe-noise")
        self._noise: Tensor | None = None
        self._grad: Tensor | None = None
        self._sq_norms: dict[int, Tensor] = {}
        # Hooks that run as backward finishes accumulating each .grad (torch leaves them untyped).
        hook = self.weight.register_post_accumulate_grad_hook(self._capture_embedding_grad)  # type: ignore[no-untyped-call]
        self._hooks = [hook]
        for i, p in enumerate(model.parameters()):
            if p.requires_grad:
                self._hooks.append(p.register_post_accumulate_grad_hook(self._norm_hook(i)))  # type: ignore[no-untyped-call]

    def _capture_embedding_grad(self, p: Tensor) -> None:
        g = p.grad
        if g is not None:
            self._grad = (g.to_dense() if g.is_sparse else g).detach().clone()

    def _norm_hook(self, i: int) -> Callable[[Tensor], None]:
        def hook(p: Tensor) -> None:
            g = p.grad
            if g is not None:
                g = g.to_dense() if g.is_sparse else g
                self._sq_norms[i] = torch.linalg.vector_norm(g.detach(), dtype=torch.float64).square()

        return hook

    def close(self) -> None:
        """Removes the gradient hooks."""
        for h in self._hooks:
            h.remove()
        self._hooks.clear()

    @property
    def grad_norm_total(self) -> float | None:
        """‖∇θ L‖ over all parameters from the last backward pass (None before one)."""
        if not self._sq_norms:
            return None
        return math.sqrt(float(torch.stack([n.cpu() for _, n in sorted(self._sq_norms.items())]).sum()))

    def scalars(self) -> dict[str, float]:
        """`grad_norm_total`, once a backward pass has run."""
        total = self.grad_norm_total
        return {} if total is None else {"grad_norm_total": total}

    def representations(self) -> tuple[Tensor, Tensor]:
        """(h(x), h(x + ε)) on the probe inputs, now."""
        if self.probe_inputs is None or self._pooled is None:
            raise ValueError("Probes was created without probe_inputs and pooled")
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                if callable(self._pooled):
                    emb = self.embedding_module(self.probe_inputs)
                    return self._pooled(emb), self._pooled(emb + self._epsilon(emb))
                return self._through_model(self._pooled)
        finally:
            self.model.train(was_training)

    def matrices(self, epoch: int) -> dict[str, Tensor]:
        """The probe matrices for the report of `epoch`, after its optimiser step."""
        out: dict[str, Tensor] = {"embedding": self.weight.detach().clone()}
        if epoch == 0:
            out["embedding_init"] = self.embedding_init
        if self._grad is not None:
            out["embedding_grad"] = self._grad
        if self.probe_inputs is not None:
            out["probe_clean"], out["probe_noisy"] = self.representations()
        return out

    def _epsilon(self, emb: Tensor) -> Tensor:
        if self._noise is None or self._noise.shape != emb.shape:
            gen = torch.Generator(device="cpu").manual_seed(self._noise_seed)
            eps = torch.randn(emb.shape, generator=gen, dtype=torch.float32) * self.noise_scale
            self._noise = eps.to(device=emb.device, dtype=emb.dtype)
        return self._noise

    def _through_model(self, head: str) -> tuple[Tensor, Tensor]:
        seen: list[Tensor] = []
        add_noise = [False]

        def grab(_m: nn.Module, args: tuple[Any, ...]) -> None:
            seen.append(args[0].detach())

        def perturb(_m: nn.Module, _args: tuple[Any, ...], out: Tensor) -> Tensor | None:
            return out + self._epsilon(out) if add_noise[0] else None

        hooks = [
            self.model.get_submodule(head).register_forward_pre_hook(grab),
            self.embedding_module.register_forward_hook(perturb),
        ]
        try:
            self.model(self.probe_inputs)
            add_noise[0] = True
            self.model(self.probe_inputs)
        finally:
            for h in hooks:
                h.remove()
        return seen[0], seen[1]


def _plain(value: Any) -> Any:
    """numpy arrays inside RNG states as lists, so the checkpoint loads with weights_only=True."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    return value


def _numpy(value: Any) -> Any:
    if isinstance(value, dict) and "__ndarray__" in value:
        return np.asarray(value["__ndarray__"], dtype=value["dtype"])
    if isinstance(value, dict):
        return {k: _numpy(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_numpy(v) for v in value)
    return value


def _cuda_initialized() -> bool:
    return bool(torch.cuda.is_initialized())  # type: ignore[no-untyped-call]


def save_state(
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    generators: Generators | None = None,
    extra: Any = None,
) -> bytes:
    """A checkpoint as bytes (torch.save): the model's and optimiser's state dicts, the global
    random generators (torch CPU, CUDA when initialised, numpy's legacy one, python's `random`),
    the named `generators`, and `extra` (tensors and plain Python values, e.g. a scheduler's
    state dict). Enough to continue bit for bit when the data are regenerated from the seed."""
    named: dict[str, Any] = {}
    for name, gen in (generators or {}).items():
        if isinstance(gen, torch.Generator):
            named[name] = {"torch": gen.get_state()}
        else:
            named[name] = {"numpy": _plain(gen.bit_generator.state)}
    state = {
        "format": "phasesweep-torch/1",
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if _cuda_initialized() else None,
            "numpy": _plain(np.random.get_state(legacy=False)),
            "python": random.getstate(),
            "named": named,
        },
        "extra": extra,
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def load_state(
    data: bytes,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    generators: Generators | None = None,
    map_location: str | torch.device | None = None,
    weights_only: bool = True,
) -> Any:
    """Restores what `save_state` saved into `model`, `optimizer`, the global generators and the
    named `generators` (the same names as when saving); returns `extra`."""
    state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=weights_only)
    if not isinstance(state, dict) or state.get("format") != "phasesweep-torch/1":
        raise ValueError("not a checkpoint written by phasesweep.torch.save_state")
    model.load_state_dict(state["model"])
    if optimizer is not None:
        if state["optimizer"] is None:
            raise ValueError("the checkpoint holds no optimiser state")
        optimizer.load_state_dict(state["optimizer"])
    rng = state["rng"]
    torch.set_rng_state(rng["torch"].cpu())
    if rng["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
    np.random.set_state(_numpy(rng["numpy"]))
    python = rng["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    for name, gen in (generators or {}).items():
        if name not in rng["named"]:
            raise KeyError(f"the checkpoint has no generator named {name!r}")
        saved = rng["named"][name]
        if isinstance(gen, torch.Generator):
            gen.set_state(saved["torch"].cpu())
        else:
            gen.bit_generator.state = _numpy(saved["numpy"])
    return state["extra"]
