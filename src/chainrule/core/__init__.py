"""chainrule's core: ``Tensor``, ``Node`` and ``apply`` (the record), the backward pass,
the dispatch tables and per-thread state.  It knows no particular operation and imports
nothing of chainrule's above it (tests/test_layers.py); what it calls but does not define
is in ``hooks``, installed by the layers above.  See docs/architecture.md."""
