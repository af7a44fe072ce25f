"""MSK Connect's state machines as the sandbox emulates them (kafkaconnect): custom plugins
(CREATING -> ACTIVE | CREATE_FAILED, DELETING -> gone), connectors (CREATING -> RUNNING | FAILED,
UPDATING -> RUNNING with a new currentVersion, DELETING -> gone), connector operations, the
fail-next and settings controls, and what moto's reset does to them."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support import ACCOUNT, Sandbox, client_error, eventually, http

BUCKET = "plugins"
CONFIG = {"connector.class": "io.confluent.connect.s3.S3SinkConnector", "topics": "orders", "s3.bucket.name": "sink", "flush.size": "10"}
SLOW_MS = 1500  # long enough to see a transition under way on a loaded machine


def delays(sandbox: Sandbox, plugin: int = 0, connector: int = 0, update: int = 0) -> None:
    settings = {"plugin_delay_ms": plugin, "connector_delay_ms": connector, "update_delay_ms": update}
    assert sandbox.post("/_sandbox/kafkaconnect/settings", settings) == (200, settings)


def zip_bytes() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("lib/sink.jar", b"jar")
    return archive.getvalue()


def location(key: str, bucket: str = BUCKET) -> dict[str, Any]:
    return {"s3Location": {"bucketArn": f"arn:aws:s3:::{bucket}", "fileKey": key}}


class Connect:
    """A bucket with a good and a broken plugin zip, a service execution role, and the client."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.kc = sandbox.client("kafkaconnect")
        s3 = sandbox.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        self.zip = zip_bytes()
        s3.put_object(Bucket=BUCKET, Key="sink.zip", Body=self.zip)
        s3.put_object(Bucket=BUCKET, Key="broken.zip", Body=b"not a zip")
        trust = {"Version": "2012-10-17", "Statement": []}
        self.role = sandbox.client("iam").create_role(RoleName="connect", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]

    def plugin(self, name: str = "sink", key: str = "sink.zip") -> str:
        return str(self.kc.create_custom_plugin(name=name, contentType="ZIP", location=location(key))["customPluginArn"])

    def plugin_state(self, arn: str) -> str:
        return str(self.kc.describe_custom_plugin(customPluginArn=arn)["customPluginState"])

    def active_plugin(self) -> str:
        arn = self.plugin()
        assert eventually(lambda: self.plugin_state(arn), "ACTIVE") == "ACTIVE"
        return arn

    def spec(self, plugin: str, **changes: Any) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "capacity": {"provisionedCapacity": {"mcuCount": 1, "workerCount": 1}},
            "connectorConfiguration": CONFIG,
            "kafkaCluster": {"apacheKafkaCluster": {"bootstrapServers": "b-1.demo:9098", "vpc": {"subnets": ["subnet-1", "subnet-2"]}}},
            "kafkaClusterClientAuthentication": {"authenticationType": "IAM"},
            "kafkaClusterEncryptionInTransit": {"encryptionType": "TLS"},
            "kafkaConnectVersion": "2.7.1",
            "plugins": [{"customPlugin": {"customPluginArn": plugin, "revision": 1}}],
            "serviceExecutionRoleArn": self.role,
        }
        return {**spec, **changes}

    def connector(self, arn: str) -> dict[str, Any]:
        return dict(self.kc.describe_connector(connectorArn=arn))

    def connector_state(self, arn: str) -> str:
        return str(self.connector(arn)["connectorState"])

    def gone(self, arn: str) -> bool:
        try:
            self.connector(arn)
        except ClientError as err:
            return bool(err.response["Error"]["Code"] == "NotFoundException")
        return False


@pytest.fixture
def connect(sandbox: Sandbox) -> Connect:
    return Connect(sandbox)


# ------------------------------------------------------------------------------ plugins
def test_a_plugin_is_creating_then_active_then_deleting_then_gone(sandbox: Sandbox, connect: Connect) -> None:
    delays(sandbox, plugin=SLOW_MS)
    kc = connect.kc
    answer = kc.create_custom_plugin(name="sink", contentType="ZIP", location=location("sink.zip"), tags={"owner": "pinfra"})
    arn = answer["customPluginArn"]
    assert arn.startswith(f"arn:aws:kafkaconnect:us-east-1:{ACCOUNT}:custom-plugin/sink/")
    assert (answer["customPluginState"], answer["name"], answer["revision"]) == ("CREATING", "sink", 1)
    described = kc.describe_custom_plugin(customPluginArn=arn)
    # No revision until one was created successfully (the model's words).
    assert described["customPluginState"] == "CREATING" and "latestRevision" not in described
    with pytest.raises(ClientError) as err:
        kc.create_custom_plugin(name="sink", contentType="ZIP", location=location("sink.zip"))
    assert client_error(err) == (409, "ConflictException", "A custom plugin with the name sink already exists.")

    assert eventually(lambda: connect.plugin_state(arn), "ACTIVE") == "ACTIVE"
    revision = kc.describe_custom_plugin(customPluginArn=arn)["latestRevision"]
    assert revision["revision"] == 1 and revision["contentType"] == "ZIP"
    assert revision["fileDescription"] == {"fileMd5": hashlib.md5(connect.zip).hexdigest(), "fileSize": len(connect.zip)}
    assert kc.list_tags_for_resource(resourceArn=arn)["tags"] == {"owner": "pinfra"}

    assert kc.delete_custom_plugin(customPluginArn=arn)["customPluginState"] == "DELETING"
    with pytest.raises(ClientError) as err:
        kc.delete_custom_plugin(customPluginArn=arn)
    assert client_error(err) == (404, "NotFoundException", f"The custom plugin {arn} is already being deleted.")
    # The name stays taken while it is being deleted.
    with pytest.raises(ClientError) as err:
        kc.create_custom_plugin(name="sink", contentType="ZIP", location=location("sink.zip"))
    assert client_error(err)[:2] == (409, "ConflictException")
    assert eventually(lambda: [p["name"] for p in kc.list_custom_plugins()["customPlugins"]], []) == []
    with pytest.raises(ClientError) as err:
        kc.describe_custom_plugin(customPluginArn=arn)
    assert client_error(err) == (404, "NotFoundException", f"The custom plugin {arn} does not exist.")


def test_a_plugin_from_a_file_that_is_not_a_zip_fails_to_create(sandbox: Sandbox, connect: Connect) -> None:
    delays(sandbox)
    arn = connect.plugin("broken", "broken.zip")
    assert eventually(lambda: connect.plugin_state(arn), "CREATE_FAILED") == "CREATE_FAILED"
    described = connect.kc.describe_custom_plugin(customPluginArn=arn)
    message = f"The custom plugin file broken.zip in arn:aws:s3:::{BUCKET} is not a valid ZIP file."
    assert described["stateDescription"] == {"code": "InvalidCustomPluginFile", "message": message}
    assert "latestRevision" not in described
    # A connector needs an ACTIVE plugin.
    with pytest.raises(ClientError) as err:
        connect.kc.create_connector(connectorName="c", **connect.spec(arn))
    assert client_error(err) == (400, "BadRequestException", f"The custom plugin {arn} is CREATE_FAILED; a connector needs an ACTIVE plugin.")
    # What is missing is refused at once.
    for key, bucket, message in [
        ("nope.zip", BUCKET, f"The S3 object s3://{BUCKET}/nope.zip does not exist."),
        ("sink.zip", "nobucket", "The S3 bucket nobucket does not exist."),
    ]:
        with pytest.raises(ClientError) as err:
            connect.kc.create_custom_plugin(name="x", contentType="ZIP", location=location(key, bucket))
        assert client_error(err) == (400, "BadRequestException", message)


# ---------------------------------------------------------------------------- connectors
def test_a_connector_is_creating_then_running_and_updates_one_change_at_a_time(sandbox: Sandbox, connect: Connect) -> None:
    delays(sandbox, connector=SLOW_MS, update=SLOW_MS)
    kc, plugin = connect.kc, connect.active_plugin()
    arn = kc.create_connector(connectorName="sink", **connect.spec(plugin))["connectorArn"]
    created = connect.connector(arn)
    assert created["connectorState"] == "CREATING"
    version = created["currentVersion"]
    with pytest.raises(ClientError) as err:
        kc.update_connector(connectorArn=arn, currentVersion=version, connectorConfiguration={**CONFIG, "flush.size": "5"})
    assert client_error(err) == (400, "BadRequestException", "The connector sink is CREATING; it can be updated only when RUNNING.")
    assert eventually(lambda: connect.connector_state(arn), "RUNNING") == "RUNNING"
    assert connect.connector(arn)["currentVersion"] == version

    # Refused at once, with nothing changed: a stale version, no change, both kinds of change.
    with pytest.raises(ClientError) as err:
        kc.update_connector(connectorArn=arn, currentVersion="STALE", connectorConfiguration={**CONFIG, "flush.size": "5"})
    assert client_error(err)[2] == f"The connector version STALE does not match the current version {version}; describe the connector for its currentVersion and retry."
    with pytest.raises(ClientError) as err:
        kc.update_connector(connectorArn=arn, currentVersion=version, capacity={"provisionedCapacity": {"mcuCount": 1, "workerCount": 1}})
    assert client_error(err)[2].startswith("Invalid parameter provisionedCapacity: The specified parameter value is identical")
    with pytest.raises(ClientError) as err:
        kc.update_connector(connectorArn=arn, currentVersion=version, capacity={"provisionedCapacity": {"mcuCount": 2, "workerCount": 1}}, connectorConfiguration=CONFIG)
    assert client_error(err)[2].startswith("You can update either the connector's worker setting")
    assert connect.connector(arn)["currentVersion"] == version

    answer = kc.update_connector(connectorArn=arn, currentVersion=version, connectorConfiguration={**CONFIG, "flush.size": "5"})
    assert answer["connectorState"] == "UPDATING"
    op_arn = answer["connectorOperationArn"]
    op = kc.describe_connector_operation(connectorOperationArn=op_arn)
    assert (op["connectorOperationState"], op["connectorOperationType"]) == ("UPDATE_IN_PROGRESS", "UPDATE_CONNECTOR_CONFIGURATION")
    assert [(s["stepType"], s["stepState"]) for s in op["operationSteps"]] == [
        ("INITIALIZE_UPDATE", "COMPLETED"),
        ("UPDATE_CONNECTOR_CONFIGURATION", "IN_PROGRESS"),
        ("FINALIZE_UPDATE", "PENDING"),
    ]
    assert "endTime" not in op
    # The change shows only once the update is done.
    assert connect.connector(arn)["connectorConfiguration"]["flush.size"] == "10"
    with pytest.raises(ClientError) as err:
        kc.delete_connector(connectorArn=arn)
    assert client_error(err) == (400, "BadRequestException", "The connector sink is UPDATING; delete it once the update is done.")

    assert eventually(lambda: connect.connector_state(arn), "RUNNING") == "RUNNING"
    done = connect.connector(arn)
    assert done["connectorConfiguration"]["flush.size"] == "5" and done["currentVersion"] != version
    op = kc.describe_connector_operation(connectorOperationArn=op_arn)
    assert op["connectorOperationState"] == "UPDATE_COMPLETE" and "endTime" in op
    assert (op["originConnectorConfiguration"]["flush.size"], op["targetConnectorConfiguration"]["flush.size"]) == ("10", "5")
    assert [o["connectorOperationState"] for o in kc.list_connector_operations(connectorArn=arn)["connectorOperations"]] == ["UPDATE_COMPLETE"]


def test_a_connector_is_deleting_then_gone_and_holds_its_plugin_until_then(sandbox: Sandbox, connect: Connect) -> None:
    delays(sandbox, connector=SLOW_MS)
    kc, plugin = connect.kc, connect.active_plugin()
    arn = kc.create_connector(connectorName="sink", **connect.spec(plugin))["connectorArn"]
    with pytest.raises(ClientError) as err:
        kc.create_connector(connectorName="sink", **connect.spec(plugin))
    assert client_error(err) == (409, "ConflictException", "A connector with the name sink already exists.")
    assert eventually(lambda: connect.connector_state(arn), "RUNNING") == "RUNNING"
    in_use = f"The custom plugin {plugin} is used by connector(s) sink; delete them before the plugin."
    with pytest.raises(ClientError) as err:
        kc.delete_custom_plugin(customPluginArn=plugin)
    assert client_error(err) == (400, "BadRequestException", in_use)
    with pytest.raises(ClientError) as err:
        kc.delete_connector(connectorArn=arn, currentVersion="STALE")
    assert client_error(err)[:2] == (400, "BadRequestException")

    assert kc.delete_connector(connectorArn=arn)["connectorState"] == "DELETING"
    with pytest.raises(ClientError) as err:
        kc.delete_connector(connectorArn=arn)
    assert client_error(err) == (404, "NotFoundException", f"The connector {arn} is already being deleted.")
    # A DELETING connector still holds its plugin.
    with pytest.raises(ClientError) as err:
        kc.delete_custom_plugin(customPluginArn=plugin)
    assert client_error(err) == (400, "BadRequestException", in_use)
    assert eventually(lambda: connect.gone(arn), True)
    assert kc.delete_custom_plugin(customPluginArn=plugin)["customPluginState"] == "DELETING"


# ---------------------------------------------------------------------------- fail-next
def test_fail_next_fails_an_update_and_leaves_the_connector_as_it_was(sandbox: Sandbox, connect: Connect) -> None:
    delays(sandbox)
    kc, plugin = connect.kc, connect.active_plugin()
    arn = kc.create_connector(connectorName="sink", **connect.spec(plugin))["connectorArn"]
    assert eventually(lambda: connect.connector_state(arn), "RUNNING") == "RUNNING"
    version = connect.connector(arn)["currentVersion"]
    armed = {"operation": "update", "state": "UPDATE_FAILED", "code": "InvalidInput", "message": "no"}
    status, answer = sandbox.post("/_sandbox/kafkaconnect/fail-next", armed)
    assert status == 200 and answer["armed"] == {**armed, "count": 1, "fired": 0}

    op_arn = kc.update_connector(connectorArn=arn, currentVersion=version, capacity={"provisionedCapacity": {"mcuCount": 2, "workerCount": 2}})["connectorOperationArn"]
    def op_state() -> str:
        return str(kc.describe_connector_operation(connectorOperationArn=op_arn)["connectorOperationState"])

    assert eventually(op_state, "UPDATE_FAILED") == "UPDATE_FAILED"
    op = kc.describe_connector_operation(connectorOperationArn=op_arn)
    assert op["errorInfo"] == {"code": "InvalidInput", "message": "no"}
    assert [s["stepState"] for s in op["operationSteps"]] == ["COMPLETED", "FAILED", "CANCELLED"]
    after = connect.connector(arn)
    assert after["connectorState"] == "RUNNING"
    assert (after["capacity"], after["currentVersion"]) == ({"provisionedCapacity": {"mcuCount": 1, "workerCount": 1}}, version)
    assert sandbox.get("/_sandbox/kafkaconnect/fail-next")["failures"] == [{**armed, "count": 1, "fired": 1}]
    # Fired once: the next update goes through.
    kc.update_connector(connectorArn=arn, currentVersion=version, capacity={"provisionedCapacity": {"mcuCount": 2, "workerCount": 2}})
    assert eventually(lambda: connect.connector(arn)["capacity"]["provisionedCapacity"]["workerCount"], 2) == 2


def test_fail_next_fails_a_create(sandbox: Sandbox, connect: Connect) -> None:
    delays(sandbox)
    assert sandbox.post("/_sandbox/kafkaconnect/fail-next", {"operation": "create"})[0] == 200
    arn = connect.kc.create_connector(connectorName="doomed", **connect.spec(connect.active_plugin()))["connectorArn"]
    assert eventually(lambda: connect.connector_state(arn), "FAILED") == "FAILED"
    assert connect.connector(arn)["stateDescription"] == {"code": "SandboxInjectedFailure", "message": "injected by the pinfra sandbox"}
    # A FAILED connector can be deleted (and the failure does not come back).
    connect.kc.delete_connector(connectorArn=arn)
    assert eventually(lambda: connect.gone(arn), True)


@pytest.mark.parametrize(
    "spec",
    [
        {"operation": "update", "state": "FAILED"},
        {"operation": "create", "state": "UPDATE_FAILED"},
        {"operation": "delete"},
        {"operation": "update", "count": 0},
        {"operation": "update", "count": True},
        {"operation": "update", "colour": "red"},
        [],
    ],
)
def test_fail_next_refuses_a_bad_spec(sandbox: Sandbox, spec: Any) -> None:
    status, answer = sandbox.post("/_sandbox/kafkaconnect/fail-next", spec)
    assert status == 400 and "error" in answer
    assert sandbox.get("/_sandbox/kafkaconnect/fail-next") == {"failures": []}


# ------------------------------------------------------------------------------ controls
def test_settings_refuse_bad_values_and_reset_restores_them_and_forgets_everything(sandbox: Sandbox, connect: Connect) -> None:
    defaults = {"plugin_delay_ms": 300, "connector_delay_ms": 300, "update_delay_ms": 300}
    assert sandbox.get("/_sandbox/kafkaconnect/settings") == defaults
    bad: Any
    for bad in ({"plugin_delay_ms": -1}, {"update_delay_ms": "soon"}, {"update_delay_ms": True}, {"delay": 1}, []):
        assert sandbox.post("/_sandbox/kafkaconnect/settings", bad)[0] == 400, bad
    assert sandbox.get("/_sandbox/kafkaconnect/settings") == defaults
    # A digit string is read as milliseconds, as the environment variables are.
    assert sandbox.post("/_sandbox/kafkaconnect/settings", {"plugin_delay_ms": "0"}) == (200, {**defaults, "plugin_delay_ms": 0})
    connect.plugin()
    assert sandbox.post("/_sandbox/kafkaconnect/fail-next", {"operation": "create"})[0] == 200

    http("POST", f"{sandbox.url}/moto-api/reset")
    assert sandbox.get("/_sandbox/kafkaconnect/settings") == defaults
    assert sandbox.get("/_sandbox/kafkaconnect/fail-next") == {"failures": []}
    assert connect.kc.list_custom_plugins()["customPlugins"] == []


def test_operations_it_does_not_emulate_are_refused(sandbox: Sandbox, connect: Connect) -> None:
    arn = f"arn:aws:kafkaconnect:us-east-1:{ACCOUNT}:connector/sink/00000000-0000-0000-0000-000000000000"
    with pytest.raises(ClientError) as err:
        connect.kc.pause_connector(connectorArn=arn)
    assert client_error(err) == (400, "BadRequestException", "PauseConnector is not emulated by the pinfra sandbox.")
    # Another region's resources are not found.
    plugin = connect.plugin()
    with pytest.raises(ClientError) as err:
        sandbox.client("kafkaconnect", "eu-west-1").describe_custom_plugin(customPluginArn=plugin)
    assert client_error(err)[:2] == (404, "NotFoundException")
