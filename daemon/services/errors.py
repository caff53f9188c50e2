"""The errors of recording: input a secretary can correct, and records that are not held."""

from __future__ import annotations


class RecordError(ValueError):
    """Input a secretary can correct; nothing was written."""


class UnknownRecord(RecordError):
    """The decision, mandate or device named is not on the ledger; nothing was written."""
