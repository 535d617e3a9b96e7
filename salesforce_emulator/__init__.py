"""A local stand-in for Salesforce: OAuth 2.0 web-server flow, REST query/queryAll, replication
endpoints and Salesforce's error shapes, over HTTPS on two host names, with a control API.

For tests, benchmarks and the demo; see ``running_emulator`` and ``python -m salesforce_emulator``.
"""

from .emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Emulator
from .runner import RunningEmulator, running_emulator
from .seeding import SeedSpec

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "Emulator",
    "RunningEmulator",
    "SeedSpec",
    "running_emulator",
]
