"""Timing and format settings of the emulated MSK, shared by ``msk_clusters`` and ``msk_topics``.

    GET  /_sandbox/msk/settings   the current settings
    POST /_sandbox/msk/settings   set any subset (JSON object); answers the new settings;
                                  400 on an unknown key or a bad value

``cluster_delay_ms``         CreateCluster(V2) -> ACTIVE and DeleteCluster -> gone take this long
                             (PINFRA_SANDBOX_CLUSTER_DELAY_MS, default 0)
``cluster_update_delay_ms``  UpdateBrokerStorage/Count/Type, UpdateClusterConfiguration ->
                             ACTIVE take this long (PINFRA_SANDBOX_CLUSTER_UPDATE_DELAY_MS, 300)
``topic_delay_ms``           topic CREATING/UPDATING/DELETING (PINFRA_SANDBOX_TOPIC_DELAY_MS, 300)
``stale_ms``                 topic reads lag this far behind (PINFRA_SANDBOX_STALE_MS, 0)
``describe_configs_format``  DescribeTopic configs: "properties" | "json"
                             (PINFRA_SANDBOX_TOPIC_CONFIGS_FORMAT)
``update_configs_mode``      UpdateTopic configs: "merge" | "replace"
                             (PINFRA_SANDBOX_TOPIC_CONFIGS_UPDATE)

A delay is read when the transition starts: changing it later does not move transitions under
way. Delays and ``stale_ms`` are AWS's time: the sandbox waits them divided by the time scale
(``core.TIME_SCALE``; the answers here show them as set). ``POST /moto-api/reset`` restores the environment defaults. A bad environment value stops
the sandbox at start.
"""

from __future__ import annotations

import json
import os
from typing import Any

from werkzeug.wrappers import Request, Response

from .core import Sandbox, SettingsStore, json_response

INT_SETTINGS: dict[str, tuple[str, int]] = {
    "cluster_delay_ms": ("PINFRA_SANDBOX_CLUSTER_DELAY_MS", 0),
    "cluster_update_delay_ms": ("PINFRA_SANDBOX_CLUSTER_UPDATE_DELAY_MS", 300),
    "topic_delay_ms": ("PINFRA_SANDBOX_TOPIC_DELAY_MS", 300),
    "stale_ms": ("PINFRA_SANDBOX_STALE_MS", 0),
}
CHOICE_SETTINGS: dict[str, tuple[str, tuple[str, ...]]] = {
    # DescribeTopic's configs: base64 of Java-properties lines (the MSK guide's example) or
    # of a JSON object (what Terraform's aws_msk_topic decodes).
    "describe_configs_format": ("PINFRA_SANDBOX_TOPIC_CONFIGS_FORMAT", ("properties", "json")),
    # UpdateTopic's configs: merged into the topic's own configs, or replacing them.
    "update_configs_mode": ("PINFRA_SANDBOX_TOPIC_CONFIGS_UPDATE", ("merge", "replace")),
}


def validate_setting(key: str, value: Any) -> Any:
    if key in INT_SETTINGS:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{key}: expected a non-negative integer (milliseconds), got {value!r}")
        return value
    if key in CHOICE_SETTINGS:
        choices = CHOICE_SETTINGS[key][1]
        if value not in choices:
            raise ValueError(f"{key}: expected one of {', '.join(choices)}, got {value!r}")
        return value
    known = ", ".join([*INT_SETTINGS, *CHOICE_SETTINGS])
    raise ValueError(f"unknown setting {key!r}; known: {known}")


def settings_from_env() -> dict[str, Any]:
    defaults: dict[str, Any] = {key: default for key, (_env, default) in INT_SETTINGS.items()}
    defaults.update({key: choices[0] for key, (_env, choices) in CHOICE_SETTINGS.items()})
    settings: dict[str, Any] = {}
    for key, (env, _) in [*INT_SETTINGS.items(), *CHOICE_SETTINGS.items()]:
        raw = os.environ.get(env)
        try:
            settings[key] = defaults[key] if raw in (None, "") else validate_setting(key, raw)
        except ValueError as err:
            raise ValueError(f"${env}: {err}") from None
    return settings


class MskSettings(SettingsStore):
    """The settings; ``settings["topic_delay_ms"]`` reads one, ``seconds(key)`` a delay in s."""

    def __init__(self) -> None:
        super().__init__(settings_from_env, validate_setting)


_current: MskSettings | None = None


def current() -> MskSettings:
    """The process's settings (created from the environment on first use)."""
    global _current
    if _current is None:
        try:
            _current = MskSettings()
        except ValueError as err:
            raise SystemExit(f"sandbox: {err}") from None
    return _current


def install(sandbox: Sandbox) -> None:
    settings = current()

    def get_settings(_request: Request) -> Response:
        return json_response(settings.snapshot())

    def post_settings(request: Request) -> Response:
        try:
            changes = json.loads(request.get_data() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            return json_response(settings.update(changes))
        except ValueError as err:
            return json_response({"error": str(err)}, 400)

    sandbox.add_control_route("GET", "/_sandbox/msk/settings", get_settings)
    sandbox.add_control_route("POST", "/_sandbox/msk/settings", post_settings)
    sandbox.add_reset_hook(settings.reset)
