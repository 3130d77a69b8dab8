"""The ``rop`` plugin."""
