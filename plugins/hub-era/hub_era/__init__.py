"""ERA platform integration channels (``integration_points``) for the hub."""
