"""Python client of the phasesweep trainer protocol: run your own training loop as a phasesweep trial.

    trial = phasesweep.connect()
    for epoch in trial:
        ...  # one epoch of training
        trial.report(epoch, {"loss": loss.item()}, matrices)

PyTorch helpers (probes, checkpoints with every RNG state) are in `phasesweep.torch`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import ChannelClosed, NotUnderPhasesweep, PhasesweepError, ProtocolError  # noqa: E402
from .trial import (  # noqa: E402
    PROTOCOL_VERSION,
    Action,
    ProbeSettings,
    State,
    Status,
    Trial,
    connect,
    derive_seed,
)

__all__ = [
    "PROTOCOL_VERSION",
    "Action",
    "ChannelClosed",
    "NotUnderPhasesweep",
    "PhasesweepError",
    "ProbeSettings",
    "ProtocolError",
    "State",
    "Status",
    "Trial",
    "__version__",
    "connect",
    "derive_seed",
]
