"""MSK Connect's REST routes (botocore's kafkaconnect 2021-09-14 model): method and path pattern ->
the store's operation, as moto's ``urls.py`` maps them."""

from __future__ import annotations

import re

from .checks import CONNECTOR_ARN

# ------------------------------------------------------------------------------- routing
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(pattern), name)
    for method, pattern, name in [
        ("POST", r"^/v1/custom-plugins/?$", "create_plugin"),
        ("GET", r"^/v1/custom-plugins/?$", "list_plugins"),
        ("GET", r"^/v1/custom-plugins/(?P<arn>.+?)/?$", "describe_plugin"),
        ("DELETE", r"^/v1/custom-plugins/(?P<arn>.+?)/?$", "delete_plugin"),
        ("POST", r"^/v1/worker-configurations/?$", "create_worker_configuration"),
        ("GET", r"^/v1/worker-configurations/?$", "list_worker_configurations"),
        ("GET", r"^/v1/worker-configurations/(?P<arn>.+?)/?$", "describe_worker_configuration"),
        ("DELETE", r"^/v1/worker-configurations/(?P<arn>.+?)/?$", "delete_worker_configuration"),
        ("POST", r"^/v1/connectors/?$", "create_connector"),
        ("GET", r"^/v1/connectors/?$", "list_connectors"),
        ("GET", rf"^/v1/connectors/(?P<arn>{CONNECTOR_ARN})/operations/?$", "list_operations"),
        ("PUT", rf"^/v1/connectors/(?P<arn>{CONNECTOR_ARN})/(?P<op>pause|resume)/?$", "not_emulated"),
        ("POST", rf"^/v1/connectors/(?P<arn>{CONNECTOR_ARN})/(?P<op>restart)/?$", "not_emulated"),
        ("GET", r"^/v1/connectors/(?P<arn>.+?)/?$", "describe_connector"),
        ("PUT", r"^/v1/connectors/(?P<arn>.+?)/?$", "update_connector"),
        ("DELETE", r"^/v1/connectors/(?P<arn>.+?)/?$", "delete_connector"),
        ("GET", r"^/v1/connectorOperations/(?P<arn>.+?)/?$", "describe_operation"),
        ("POST", r"^/v1/tags/(?P<arn>.+?)/?$", "tag"),
        ("DELETE", r"^/v1/tags/(?P<arn>.+?)/?$", "untag"),
        ("GET", r"^/v1/tags/(?P<arn>.+?)/?$", "list_tags"),
    ]
]
NOT_EMULATED = {"pause": "PauseConnector", "resume": "ResumeConnector", "restart": "RestartConnector"}
