"""The sandbox's knobs for MSK Connect: its delays (``/_sandbox/kafkaconnect/settings``, environment
defaults; waited divided by the time scale, ``core.TIME_SCALE``) and armed failures
(``/_sandbox/kafkaconnect/fail-next``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..core import SettingsStore

# ------------------------------------------------------------------------------ settings
SETTINGS: dict[str, tuple[str, int]] = {
    "plugin_delay_ms": ("PINFRA_SANDBOX_PLUGIN_DELAY_MS", 300),
    "connector_delay_ms": ("PINFRA_SANDBOX_CONNECTOR_DELAY_MS", 300),
    "update_delay_ms": ("PINFRA_SANDBOX_CONNECTOR_UPDATE_DELAY_MS", 300),
}


def validate_setting(key: str, value: Any) -> int:
    if key not in SETTINGS:
        raise ValueError(f"unknown setting {key!r}; known: {', '.join(SETTINGS)}")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key}: expected a non-negative integer (milliseconds), got {value!r}")
    return value


def settings_from_env() -> dict[str, int]:
    settings: dict[str, int] = {}
    for key, (env, default) in SETTINGS.items():
        raw = os.environ.get(env)
        try:
            settings[key] = default if raw in (None, "") else validate_setting(key, raw)
        except ValueError as err:
            raise ValueError(f"${env}: {err}") from None
    return settings


class KafkaConnectSettings(SettingsStore):
    """The delays; ``settings["plugin_delay_ms"]`` reads one, ``seconds(key)`` a delay in s."""

    def __init__(self) -> None:
        super().__init__(settings_from_env, validate_setting)


# ----------------------------------------------------------------------------- fail-next
FAIL_STATES: dict[str, tuple[str, ...]] = {
    "create": ("FAILED",),
    "update": ("UPDATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED"),
}


@dataclass
class Failure:
    """An armed failure: the next ``count`` accepted creates/updates end in ``state``."""

    operation: str  # create | update
    state: str
    code: str = "SandboxInjectedFailure"
    message: str = "injected by the pinfra sandbox"
    count: int = 1
    fired: int = field(default=0)

    def info(self) -> dict[str, str]:
        """StateDescription (a failed create) / errorInfo (a failed update)."""
        return {"code": self.code, "message": self.message}


FAILURE_SPEC_TYPES: dict[str, type] = {"operation": str, "state": str, "code": str, "message": str, "count": int}


def failure_from_spec(spec: Any) -> Failure:
    if not isinstance(spec, dict):
        raise ValueError("expected a JSON object")
    unknown = sorted(set(spec) - set(FAILURE_SPEC_TYPES))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(FAILURE_SPEC_TYPES)}")
    for key, value in spec.items():
        if not isinstance(value, FAILURE_SPEC_TYPES[key]) or isinstance(value, bool):
            raise ValueError(f"{key}: bad value {value!r}")
    operation = spec.get("operation")
    if operation not in FAIL_STATES:
        raise ValueError(f"operation: expected one of {', '.join(FAIL_STATES)}, got {operation!r}")
    states = FAIL_STATES[operation]
    state = spec.get("state", states[0])
    if state not in states:
        raise ValueError(f"state: for {operation}, expected one of {', '.join(states)}, got {state!r}")
    if spec.get("count", 1) < 1:
        raise ValueError("count: expected a positive integer")
    return Failure(**{**spec, "state": state})
