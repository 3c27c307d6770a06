"""Run the benchmark suite from a source checkout: ``python benchmarks/run.py [options]``.

The suite lives in the package (``chainrule.cli.bench``) so that the installed command
``chainrule bench`` runs the same thing; this file only forwards to it.  Options:
``--quick``, ``--threads N``, ``--reps N``, ``--json PATH``, ``--cases a,b``, ``--libs a,b``.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, os.pardir, "src"))  # a checkout without install

    from chainrule.cli import main

    sys.exit(main(["bench", *sys.argv[1:]]))
