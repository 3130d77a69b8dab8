"""The fixtures the ``rop`` test modules set up alike, made in each module by a call that
states what is the module's own (its receiver's paths, its hub's directory and settings)::

    audio = audio_fixture()
    receiver = receiver_fixture({"/ok": SECRET})
    hub = hub_fixture("rop-stored")
    rop = rop_fixture()

Each is found by pytest under the name it is made with, as if it were written out in the
module (a module-level assignment, so the linter sees no unused import shadowed by a test's
argument)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.hubproc import HubProcess
from tests.rop_client import FAST, Rop, connected, start_hub
from tests.rop_servers import AudioServer, WebhookReceiver


def audio_fixture(cap: int = int(FAST["HUB_ROP_MAX_AUDIO_BYTES"])) -> Any:
    """``audio``, for the module: the audio file server (its ``/big.wav`` is past ``cap``)."""

    @pytest.fixture(scope="module", name="audio")
    def audio() -> Iterator[AudioServer]:
        server = AudioServer(cap)
        yield server
        server.stop()

    return audio


def receiver_fixture(secrets: dict[str, str], name: str = "receiver") -> Any:
    """``receiver`` (or ``name``), for the module: a webhook receiver checking each path's
    signature with its secret."""

    @pytest.fixture(scope="module", name=name)
    def receiver() -> Iterator[WebhookReceiver]:
        server = WebhookReceiver(secrets)
        yield server
        server.stop()

    return receiver


def hub_fixture(directory: str, **env: str) -> Any:
    """``hub``, for the module: a rop hub (:func:`tests.rop_client.start_hub`, ``env`` on top)
    on a data directory under a temporary one named ``directory``."""

    @pytest.fixture(scope="module", name="hub")
    def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
        process = start_hub(tmp_path_factory.mktemp(directory) / "data", **env)
        yield process
        process.stop()

    return hub


def rop_fixture() -> Any:
    """``rop``, for each test: a client of the module's ``hub``."""

    @pytest.fixture(name="rop")
    async def rop(hub: HubProcess) -> AsyncIterator[Rop]:
        async with connected(hub) as client:
            yield client

    return rop
