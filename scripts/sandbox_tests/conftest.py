"""One in-process sandbox (scripts/sandbox.py's app with every extension) on a free loopback
port for the whole session; every test starts from ``POST /moto-api/reset``.

Tests talk to it with boto3 (``aws``) and read moto's state in this same process, which is
what ``sandbox_ext.network``'s functions do inside the sandbox.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

SCRIPTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, SCRIPTS)
# Loopback only, never through a proxy. The network switch starts off (tests turn it on where
# they need it); MSK IAM access control starts on, as scripts/sandbox.py defaults it, whatever the
# caller's environment says.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost,::1"
os.environ["PINFRA_SANDBOX_NETWORK"] = "off"
os.environ["PINFRA_SANDBOX_AUTHZ"] = "enforce"
# Quotas off and the time scale 1, as scripts/sandbox.py defaults them (test_quotas turns them on).
os.environ["PINFRA_SANDBOX_QUOTAS"] = "off"
os.environ["PINFRA_SANDBOX_TIME_SCALE"] = "1"

from support import ACCOUNT, Sandbox, http  # noqa: E402


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[str]:
    from moto.server import MotoRequestHandler
    from werkzeug.serving import make_server

    from sandbox_ext import Sandbox as App
    from sandbox_ext import install_all

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = App()
    install_all(app)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    os.environ["MOTO_PORT"] = str(server.server_port)
    thread = threading.Thread(target=server.serve_forever, name="sandbox-under-test", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def sandbox(sandbox_server: str) -> Sandbox:
    http("POST", f"{sandbox_server}/moto-api/reset")
    return Sandbox(sandbox_server)


@pytest.fixture
def aws(sandbox: Sandbox) -> Callable[..., Any]:
    return sandbox.client


__all__ = ["ACCOUNT"]
