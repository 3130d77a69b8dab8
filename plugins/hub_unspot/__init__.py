"""The ``unspot`` plugin."""
