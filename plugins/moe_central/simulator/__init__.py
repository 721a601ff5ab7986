"""A simulator of the MOE central database's exchange API, for tests and the demo (``licheng central-sim``)."""

from moe_central.simulator.app import Central, create_app
from moe_central.simulator.faults import ENDPOINTS, KINDS

__all__ = ["ENDPOINTS", "KINDS", "Central", "create_app"]
