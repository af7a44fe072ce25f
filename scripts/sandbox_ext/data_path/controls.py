"""The data path's switch and test control: the network switch (``PINFRA_SANDBOX_NETWORK``, read
at start and on reset; ``/_sandbox/network/settings``; MSK IAM's is ``kafka_iam``'s) and the body
of ``POST /_sandbox/restproxy/start|stop``."""

from __future__ import annotations

import json
import os
from typing import Any

from werkzeug.wrappers import Request

NETWORK_ENV = "PINFRA_SANDBOX_NETWORK"
NETWORK_MODES = {"enforce": True, "off": False}


def network_settings_from_env() -> dict[str, Any]:
    raw = (os.environ.get(NETWORK_ENV) or "off").strip().lower()
    if raw not in NETWORK_MODES:
        raise SystemExit(f"sandbox: ${NETWORK_ENV}: expected enforce or off, got {raw!r}")
    return {"enforce": NETWORK_MODES[raw]}


def validate_network_setting(key: str, value: Any) -> Any:
    if key != "enforce":
        raise ValueError(f"unknown setting {key!r}; known: enforce")
    if not isinstance(value, bool):
        raise ValueError(f"enforce: expected true or false, got {value!r}")
    return value


def control_body(request: Request) -> dict[str, Any]:
    data = request.get_data()
    body = json.loads(data) if data.strip() else {}
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    unknown = sorted(set(body) - {"instance_id"})
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; known: instance_id")
    if "instance_id" in body and not (isinstance(body["instance_id"], str) and body["instance_id"]):
        raise ValueError("instance_id: expected an instance id")
    return body
