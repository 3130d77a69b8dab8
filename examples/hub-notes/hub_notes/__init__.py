"""hub-notes: an example third-party hub plugin, packaged as its own distribution."""
