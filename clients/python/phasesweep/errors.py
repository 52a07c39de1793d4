"""The client's errors: one class per condition, all under PhasesweepError.

A trainer that hits one of these has a bug or a broken channel; none of them is a training result.
"""

from __future__ import annotations


class PhasesweepError(Exception):
    """Base class of every error this package raises."""


class NotUnderPhasesweep(PhasesweepError):
    """The process was not started by a phasesweep worker (no usable PHASESWEEP_FD)."""


class ProtocolError(PhasesweepError):
    """The worker sent something the trainer protocol does not allow, or a frame is malformed."""


class ChannelClosed(ProtocolError):
    """The worker closed the channel while the trainer was waiting for a frame."""
