"""``cr.compile``: trace a function once per signature and run it as straight-line NumPy.

The layer above ``nn`` (it compiles modules) and below ``training`` (``fit(compile=True)``).
``tracer`` records every NumPy call made on traced arrays, ``emit`` turns the recording into
Python, ``function`` keys, caches and calls it, ``module`` does the same for an nn.Module.
See docs/compile.md.
"""

from .function import Compiled, compile
from .module import CompiledModule
from .tracer import CompileError

__all__ = ["Compiled", "CompiledModule", "CompileError", "compile"]
