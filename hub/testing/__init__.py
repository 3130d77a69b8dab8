"""The plugin kit, shipped with the host: a hub in the test's own process (:func:`running_hub`)
or in a subprocess (:class:`HubProcess`), clients bound to either (:class:`HubClient`), and the
conformance check (:mod:`hub.testing.conformance`). Its pytest fixtures are in
:mod:`hub.testing.plugin`, which pytest loads through the ``pytest11`` entry point; this package
itself imports no pytest, so the hub never needs it at run time."""

from hub.testing.clients import HubClient, bearer
from hub.testing.inprocess import RunningHub, running_hub
from hub.testing.process import ADMIN_TOKEN, HubProcess

__all__ = ["ADMIN_TOKEN", "HubClient", "HubProcess", "RunningHub", "bearer", "running_hub"]
