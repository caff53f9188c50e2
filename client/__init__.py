"""pnyx.client: a typed Python client of a pnyx daemon's local API (stdlib only)."""

from .api import ApiError, Client
from .types import Assembly, Decision, Device, Event, Instruction, Ledger, Mandate, Profile, Status, Tally

__all__ = ["ApiError", "Assembly", "Client", "Decision", "Device", "Event", "Instruction", "Ledger",
           "Mandate", "Profile", "Status", "Tally"]
