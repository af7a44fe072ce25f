"""A kafkaconnect request -> the store's operation -> its JSON answer (the model's members)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs

from ..core import AwsRequest
from .checks import scope_of
from .exceptions import bad_request
from .models import KafkaConnect
from .routes import NOT_EMULATED


def json_body(request: AwsRequest) -> dict[str, Any]:
    """The request body as a JSON object (empty means ``{}``), or BadRequestException."""
    data = request.werkzeug().get_data()
    if not data.strip():
        return {}
    try:
        body = json.loads(data)
    except ValueError:
        raise bad_request("Invalid request body: not JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("Invalid request body: expected a JSON object.")
    return body


def handle(store: KafkaConnect, request: AwsRequest, route: str, match: re.Match[str]) -> Any:
    scope = scope_of(request)
    query = parse_qs(str(request.environ.get("QUERY_STRING", "")), keep_blank_values=True)
    arn = match.groupdict().get("arn")
    if route == "not_emulated":
        raise bad_request(f"{NOT_EMULATED[match['op']]} is not emulated by the pinfra sandbox.")
    if route in ("create_plugin", "create_worker_configuration", "create_connector"):
        return getattr(store, route)(scope, json_body(request))
    if route in ("list_plugins", "list_worker_configurations", "list_connectors"):
        return getattr(store, route)(scope, query)
    assert arn is not None
    if route == "update_connector":
        return store.update_connector(scope, arn, query, json_body(request))
    if route in ("delete_connector", "list_operations", "untag"):
        return getattr(store, route)(scope, arn, query)
    if route == "tag":
        return store.tag(scope, arn, json_body(request))
    return getattr(store, route)(scope, arn)
