"""moto's server on loopback, as one :class:`~sandbox.lifecycle.Emulator`."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

import requests

from sandbox.lifecycle import Lifecycle

__all__ = ["MotoServer"]

log = logging.getLogger(__name__)

# moto loads thousands of sample AMIs into every EC2 region backend it creates; the
# sandbox needs none (saves ~0.4 s per region).
_NO_DEFAULT_AMIS = "MOTO_EC2_LOAD_DEFAULT_AMIS"


class MotoServer(Lifecycle):
    """``ThreadedMotoServer`` on ``host`` (a free port); ``stop()`` resets moto's
    process-wide state, so nothing seeded is left for the next user of moto here."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.endpoint_url = ""
        self._server: Any = None
        self._set_env = False

    def start(self) -> tuple[str, int]:
        from moto.server import ThreadedMotoServer

        if self._server is not None:
            host, port = self._server.get_host_and_port()
            return str(host), int(port)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # process-wide: set only if unset, and removed again by stop()
        if _NO_DEFAULT_AMIS not in os.environ:
            os.environ[_NO_DEFAULT_AMIS] = "false"
            self._set_env = True
        server = ThreadedMotoServer(ip_address=self.host, port=0, verbose=False)
        server.start()
        self._server = server
        host, port = server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        log.info("moto server on %s", self.endpoint_url)
        return str(host), int(port)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(Exception):
                requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10)
            server.stop()
            inner = getattr(server, "_server", None)
            if inner is not None:
                inner.server_close()  # ThreadedMotoServer.stop() leaves the socket open
        if self._set_env:
            os.environ.pop(_NO_DEFAULT_AMIS, None)
            self._set_env = False
