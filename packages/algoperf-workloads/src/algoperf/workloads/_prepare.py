"""What the datasets' `prepare` steps share."""

from __future__ import annotations

from algoperf.api import AlgoPerfError


class ManualStepRequired(AlgoPerfError):
    """A dataset cannot be fetched automatically; the message says what to do by hand."""
