"""A simulator of Taipei's single sign-on (tpeduSSO) for tests and the demo: see ``app.py``."""

from taipei_coolcloud.simulator.app import create_simulator
from taipei_coolcloud.simulator.server import Running, serve
from taipei_coolcloud.simulator.state import SimClient, SimState, SimUser, SsoError

__all__ = ["Running", "SimClient", "SimState", "SimUser", "SsoError", "create_simulator", "serve"]
