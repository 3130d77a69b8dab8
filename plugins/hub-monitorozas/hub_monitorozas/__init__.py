"""The ``monitorozas`` plugin."""
