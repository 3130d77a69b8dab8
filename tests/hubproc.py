"""The real-process hub now ships with the host as :mod:`hub.testing`; kept so that existing
tests import it from here unchanged."""

from hub.testing.process import ADMIN_TOKEN, LISTENING, HubProcess

__all__ = ["ADMIN_TOKEN", "LISTENING", "HubProcess"]
