"""pnyx.client: a typed Python client of a pnyx daemon's local API (stdlib only)."""

from .api import ApiError, Client
from .types import (
    Assembly,
    Confederation,
    Decision,
    Device,
    EconomyRecord,
    Event,
    Instruction,
    Ledger,
    Mandate,
    Plan,
    PlanConfederation,
    Profile,
    Proposal,
    Status,
    Tally,
    View,
)

__all__ = ["ApiError", "Assembly", "Client", "Confederation", "Decision", "Device", "EconomyRecord",
           "Event", "Instruction", "Ledger", "Mandate", "Plan", "PlanConfederation", "Profile", "Proposal",
           "Status", "Tally", "View"]
