"""The ``webim`` plugin."""
