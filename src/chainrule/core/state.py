"""Per-thread engine state: grad mode, forward-mode levels, transform depth.

Kept in one thread-local object so that ``no_grad`` in one thread never
changes what another thread records.
"""

from __future__ import annotations

import itertools
import threading


class _State(threading.local):
    def __init__(self) -> None:
        self.grad_enabled = True
        # forward-mode tangents of level >= ceiling are invisible (see core/forward.py)
        self.fw_ceiling = 1 << 30
        self.fw_next_level = 1
        # how many functional transforms are running: >0 means a result may itself
        # be differentiated, so backward passes must record (create_graph)
        self.depth = 0
        self.anomaly = False
        # gradcheck's tracer: called as record(node, raw_args, ans) for every recorded node
        # (check/locate.py sets it while it traces); None costs one test per recorded node
        self.record = None


STATE = _State()

# creation order is a topological order: the backward pass runs in decreasing seq
_seq = itertools.count(1)
next_seq = _seq.__next__
