"""MSK Connect (service ``kafkaconnect``) for the sandbox: moto 5.2.5 has no kafkaconnect at all.

Answered here, as a request hook for every request whose SigV4 credential scope names
``kafkaconnect`` (wire format from botocore's kafkaconnect 2021-09-14 model; REST JSON, camelCase
members; the SDKs URL-encode the ARNs in the path, werkzeug hands them over decoded):

    POST   /v1/custom-plugins                                   CreateCustomPlugin
    GET    /v1/custom-plugins?namePrefix=&maxResults=&nextToken=  ListCustomPlugins
    GET    /v1/custom-plugins/{customPluginArn}                 DescribeCustomPlugin
    DELETE /v1/custom-plugins/{customPluginArn}                 DeleteCustomPlugin
    POST   /v1/worker-configurations                            CreateWorkerConfiguration
    GET    /v1/worker-configurations?namePrefix=&maxResults=&nextToken=  ListWorkerConfigurations
    GET    /v1/worker-configurations/{workerConfigurationArn}   DescribeWorkerConfiguration
    DELETE /v1/worker-configurations/{workerConfigurationArn}   DeleteWorkerConfiguration
    POST   /v1/connectors                                       CreateConnector
    GET    /v1/connectors?connectorNamePrefix=&maxResults=&nextToken=  ListConnectors
    GET    /v1/connectors/{connectorArn}                        DescribeConnector
    PUT    /v1/connectors/{connectorArn}?currentVersion=        UpdateConnector
    DELETE /v1/connectors/{connectorArn}?currentVersion=        DeleteConnector (version optional)
    GET    /v1/connectors/{connectorArn}/operations?maxResults=&nextToken=  ListConnectorOperations
    GET    /v1/connectorOperations/{connectorOperationArn}      DescribeConnectorOperation
    POST   /v1/tags/{resourceArn}                               TagResource
    DELETE /v1/tags/{resourceArn}?tagKeys=&tagKeys=             UntagResource
    GET    /v1/tags/{resourceArn}                               ListTagsForResource

Anything else for kafkaconnect (PauseConnector, ResumeConnector, RestartConnector, …) answers
400 ``BadRequestException`` "… is not emulated by the pinfra sandbox".

Errors are ``{"message": ...}`` with ``x-amzn-ErrorType: <Code>`` and the model's status
(``KafkaConnectError``): ``BadRequestException`` 400, ``NotFoundException`` 404 (any unknown ARN,
or one of another region than the request's), ``ConflictException`` 409 (a Create* whose name is
taken, even by a resource being deleted).

State is kept per (account, region of the credential scope). Timing (all from time.monotonic();
transitions are settled whenever a kafkaconnect request for the region arrives, so one answer
shows one consistent state; each delay is read when its transition starts):

* custom plugin: CREATING --plugin_delay_ms--> ACTIVE, or CREATE_FAILED when ``contentType`` is
  ZIP and the S3 object is not a ZIP archive; DeleteCustomPlugin: DELETING --plugin_delay_ms-->
  gone. ``latestRevision`` (revision 1) is absent until ACTIVE (the model: "If there are no
  successfully created revisions, this field will be absent").
* worker configuration: ACTIVE at once; DeleteWorkerConfiguration: DELETING --plugin_delay_ms-->
  gone.
* connector: CREATING --connector_delay_ms--> RUNNING (or FAILED, see fail-next);
  UpdateConnector: UPDATING --update_delay_ms--> RUNNING, the change and a new
  ``currentVersion`` taking effect at the end; DeleteConnector: DELETING --connector_delay_ms-->
  gone.

Choices where AWS's behaviour is not documented (docs/sandbox.md has the full list):

* DeleteCustomPlugin / DeleteWorkerConfiguration of one that a connector still uses (a connector
  in any state until it is gone): 400 ``BadRequestException``. The model declares no
  ``ConflictException`` for either (only Create*, TagResource and the pause/resume operations do),
  so the service cannot be sending one that SDKs would recognise: the Rust SDK's
  DeleteCustomPluginError has no ConflictException variant (a 409 would be ``Unhandled``).
* UpdateConnector on a connector that is not RUNNING: 400 ``BadRequestException`` (UpdateConnector
  declares no ConflictException either).
* An unchanged capacity: 400 "Invalid parameter autoScaling: The specified parameter value is
  identical to the current value for the connector. Specify a different value, then try again."
  (AWS's wording, quoted in aws/aws-cdk#28128; ``provisionedCapacity`` likewise). An unchanged
  ``connectorConfiguration`` gets the same (our extension of that rule).
* A failed update (fail-next) leaves the connector RUNNING with its old capacity/configuration
  and its old ``currentVersion`` (nothing changed, so the version read before stays good).

Test controls:

    POST   /_sandbox/kafkaconnect/fail-next  {"operation": "update" | "create",
                                              "state": "UPDATE_FAILED" | "ROLLBACK_COMPLETE" |
                                                       "ROLLBACK_FAILED" (update) | "FAILED" (create),
                                              "code": "...", "message": "...", "count": 1}
    DELETE /_sandbox/kafkaconnect/fail-next  disarm
    GET    /_sandbox/kafkaconnect/fail-next  armed failures and how often each fired
    GET    /_sandbox/kafkaconnect/settings   {"plugin_delay_ms", "connector_delay_ms", "update_delay_ms"}
    POST   /_sandbox/kafkaconnect/settings   set any subset; answers the new settings; 400 on an
                                             unknown key or a bad value

The next ``count`` connector creates/updates that pass their checks are accepted (HTTP 200) and
fail at the end of their delay: a create leaves the connector FAILED with ``stateDescription``
{code, message}; an update's operation ends in ``state`` with ``errorInfo`` {code, message}.
Settings default to ``PINFRA_SANDBOX_PLUGIN_DELAY_MS``, ``PINFRA_SANDBOX_CONNECTOR_DELAY_MS`` and
``PINFRA_SANDBOX_CONNECTOR_UPDATE_DELAY_MS`` (300 each; a bad value stops the sandbox at start).
``POST /moto-api/reset`` forgets everything, disarms fail-next and restores the settings.

For a later data-path emulation (a stand-in S3 sink), ``running_connectors(region)`` lists the
RUNNING connectors with their configuration and bootstrap servers.

Layout, as moto lays out a service (``moto/kafka/{models,responses,urls,exceptions}.py``):

    exceptions.py  KafkaConnectError: the model's error codes and statuses
    checks.py      values (names, ARNs, versions, times) and the checks of each request member
    models.py      the resources and their states; KafkaConnect, the store that moves them
    routes.py      method and path -> the store's operation (moto's urls.py)
    responses.py   a request -> the store's operation -> its JSON answer
    controls.py    the sandbox's knobs: delays (settings) and armed failures (fail-next)
    __init__.py    install(): the request hook and the /_sandbox/kafkaconnect/ routes;
                   running_connectors() for the data path
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields

from werkzeug.wrappers import Request, Response

from ..core import AwsRequest, Sandbox, json_response
from .controls import FAIL_STATES, Failure, KafkaConnectSettings, failure_from_spec
from .exceptions import KafkaConnectError, bad_request
from .models import KafkaConnect, RunningConnector
from .responses import handle
from .routes import ROUTES

HOOK_NAME = "kafkaconnect"
DEFAULT_ACCOUNT = "123456789012"


_store: KafkaConnect | None = None


def running_connectors(region: str, account: str = DEFAULT_ACCOUNT) -> list[RunningConnector]:
    """The RUNNING connectors of ``region`` (sorted by name), with their configuration (``topics``,
    ``topics.regex``, ``s3.bucket.name``, ``flush.size``, …) and bootstrap servers; for a
    data-path emulation inside the sandbox process. Empty before ``install``."""
    return _store.running(account, region) if _store is not None else []


def install(sandbox: Sandbox) -> None:
    global _store
    try:
        settings = KafkaConnectSettings()
    except ValueError as err:
        raise SystemExit(f"sandbox: {err}") from None
    store = _store = KafkaConnect(settings)

    def hook(request: AwsRequest) -> Response | None:
        if request.call.service != "kafkaconnect":
            return None
        try:
            for method, pattern, route in ROUTES:
                if request.method == method and (match := pattern.match(request.path)):
                    return json_response(handle(store, request, route, match))
            raise bad_request(f"{request.method} {request.path} is not emulated by the pinfra sandbox (kafkaconnect).")
        except KafkaConnectError as err:
            return err.response()

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

    def arm(request: Request) -> Response:
        try:
            failure = failure_from_spec(json.loads(request.get_data() or b"null"))
        except (ValueError, TypeError) as err:
            keys = [f.name for f in fields(Failure) if f.name != "fired"]
            return json_response({"error": str(err), "keys": keys, "states": FAIL_STATES}, 400)
        store.arm(failure)
        return json_response({"armed": asdict(failure)})

    def disarm(_request: Request) -> Response:
        store.disarm()
        return json_response({"status": "ok"})

    def listing(_request: Request) -> Response:
        return json_response({"failures": store.armed()})

    def reset() -> None:
        store.reset()
        settings.reset()

    sandbox.add_control_route("GET", "/_sandbox/kafkaconnect/settings", get_settings)
    sandbox.add_control_route("POST", "/_sandbox/kafkaconnect/settings", post_settings)
    sandbox.add_control_route("POST", "/_sandbox/kafkaconnect/fail-next", arm)
    sandbox.add_control_route("DELETE", "/_sandbox/kafkaconnect/fail-next", disarm)
    sandbox.add_control_route("GET", "/_sandbox/kafkaconnect/fail-next", listing)
    sandbox.add_request_hook(HOOK_NAME, hook)
    sandbox.add_reset_hook(reset)
