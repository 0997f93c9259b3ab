"""Live tabs: which releases open tabs still run, whether something holds them, and how long
they took to converge. Heartbeats ride on the client's ``/version`` poll; recorders count them in
bounded memory (this process, the machine's workers, or a Redis fleet); ``skewguard status``,
``/metrics`` and the status page show them; prune and retire consult them."""

from .heartbeat import REASONS, Beat, parse_beat
from .report import ReleaseTabs, TabsReport
from .retention import LiveRelease, live_releases
from .window import TabWindow

__all__ = [
    "REASONS",
    "Beat",
    "LiveRelease",
    "ReleaseTabs",
    "TabWindow",
    "TabsReport",
    "live_releases",
    "parse_beat",
]
