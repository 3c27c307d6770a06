"""Per-thread engine state: grad mode, forward-mode levels, transform depth.

Kept in one thread-local object so that ``no_grad`` in one thread never
changes what another thread records.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any


class _State(threading.local):
    def __init__(self) -> None:
        self.grad_enabled = True
        # forward-mode tangents of level >= ceiling are invisible to JVP rules (see
        # primitive._push_tangents: no perturbation confusion between nested jvp calls)
        self.fw_ceiling = 1 << 30
        self.fw_next_level = 1
        # the levels of the jvp calls now running (a tangent at any other level belongs to
        # a jvp that has returned: a constant as far as anything outside it is concerned)
        self.fw_active: set[int] = set()
        # how many functional transforms are running: >0 means a result may itself
        # be differentiated, so backward passes must record (create_graph)
        self.depth = 0
        self._anomaly = False
        # gradcheck's tracer: called as record(node, raw_args, ans) for every recorded node
        # (check/locate.py sets it while it traces); None costs one test per recorded node
        self._record = None

    # anomaly mode and the recorder are read by every recorded operation; apply() tests the
    # process-wide HOOKED set (one global lookup) and reads these only when it is not empty
    @property
    def anomaly(self) -> bool:
        return self._anomaly

    @anomaly.setter
    def anomaly(self, on: bool) -> None:
        self._anomaly = on
        self._rehook()

    @property
    def record(self) -> Any:
        return self._record

    @record.setter
    def record(self, fn: Any) -> None:
        self._record = fn
        self._rehook()

    def _rehook(self) -> None:
        if self._anomaly or self._record is not None:
            HOOKED.add(threading.get_ident())
        else:
            HOOKED.discard(threading.get_ident())


# ids of the threads with anomaly mode or a recorder on
HOOKED: set[int] = set()


STATE = _State()

# creation order is a topological order: the backward pass runs in decreasing seq
_seq = itertools.count(1)
next_seq = _seq.__next__
