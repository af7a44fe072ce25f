"""The pipeline's data path inside the sandbox: stand-in Confluent REST Proxies on the EC2 Kafka
client instances, an in-memory Kafka log per MSK cluster, and an emulated Confluent S3 sink for
RUNNING MSK Connect connectors. Nothing here opens a socket: requests reach the stand-ins in
process, through ``apigateway_compat``'s HTTP_PROXY integrations.

Stand-in REST proxy (Confluent REST Proxy 7.6.1, API v2, only what verify and the seed's posting
emulator use). It listens on ``http://<instance public DNS name or IP>:<port>`` when all hold:

* the EC2 instance (moto's EC2 backend, any region of the account) is ``running`` (see
  ``ec2_compat`` for state delays; a stopped instance has no public address);
* its user-data writes ``kafka-rest.properties`` through a here-document (as
  templates/user-data.sh.j2 does) whose ``listeners`` (default: ``port``, else 8082) has that
  scheme and port. The user-data the instance first booted with counts: cloud-init runs a
  user-data script once per instance, so a UserData changed later (ModifyInstanceAttribute)
  does not reconfigure the proxy;
* the stand-in is started (``/_sandbox/restproxy/start|stop``).

Otherwise the gateway cannot connect. Routes (errors are ``{"error_code", "message"}``):

    POST /topics/{topic}   Content-Type application/vnd.kafka.json.v2+json or
                           application/vnd.kafka.binary.v2+json (values base64),
                           {"records": [{"key"?, "value"?, "partition"?}]}
                           -> 200 {"offsets": [{"partition", "offset", "error_code": null,
                                   "error": null}], "key_schema_id": null, "value_schema_id": null}
    GET  /topics           -> 200 ["topic", ...]
    GET  /topics/{topic}   -> 200 {"name", "configs", "partitions": [{"partition", "leader",
                                   "replicas": [{"broker", "leader", "in_sync"}]}]};
                              unknown -> 404 {"error_code": 40401, "message": "Topic not found."}

    other paths -> 404 {"error_code": 404, "message": "HTTP 404 Not Found"}; other methods on
    these -> 405 {"error_code": 405, "message": "HTTP 405 Method Not Allowed"}; another content
    type (also avro/protobuf/jsonschema, which need a Schema Registry: not emulated) -> 415
    {"error_code": 415, "message": "HTTP 415 Unsupported Media Type"}; a body that is not JSON
    -> 400 {"error_code": 400, "message": <parser message>}; JSON of the wrong shape (records
    not a list, a record not an object, an unknown field, a partition that is not a number)
    -> 400; no records -> 422 {"error_code": 422, "message": "records must not be empty"};
    a binary value that is not base64 -> 400 {"error_code": 400, "message": "Bad Request:
    data=... is not a valid base64 string."}; a negative partition -> 500 {"error_code": 500,
    "message": "Internal Server Error"} (the records before it are produced, as the real one).

The cluster: the ACTIVE (or UPDATING) MSK cluster in the instance's region whose bootstrap broker
string for the proxy's ``client.security.protocol``/``client.sasl.mechanism`` (SASL_SSL +
AWS_MSK_IAM: ``bootstrapBrokerStringSaslIam``, as GetBootstrapBrokers in ``msk_topics`` answers)
contains one of ``bootstrap.servers``. A record whose topic is not ACTIVE/UPDATING in that
cluster (also: no such cluster, or a ``partition`` beyond the topic's count) is what Kafka's
producer gives the 7.6.1 proxy: it waits ``producer.max.block.ms`` (default 60000) for metadata,
then the record's offset entry is ``{"partition": null, "offset": null, "error_code": 50003,
"error": "Topic t not present in metadata after 60000 ms."}`` in a 200 answer. Through API
Gateway (integration timeout 29000 ms) that is a 504 ``Endpoint request timed out``: the
stand-in tells the gateway how long the real proxy would take (it answers at once).
``GET /topics`` without a cluster waits ``default.api.timeout.ms`` (60000), then 500 50003.

Records go to an in-memory log per (cluster ARN, topic, partition), offsets from 0. Partition:
the record's ``partition``; else Kafka's default partitioner for a key (murmur2 of the key's
serialized bytes, positive, modulo the partition count); else round-robin per topic (Kafka 3.x
uses sticky batches: our choice). A deleted topic (or cluster) loses its records and its
consumer-group offsets.

Emulated S3 sink: each RUNNING connector (``kafkaconnect.running_connectors``) with
``connector.class`` io.confluent.connect.s3.S3SinkConnector whose ``kafkaCluster`` bootstrap
servers are in the broker string of a cluster of its region (for its authentication and
encryption: IAM -> SASL/IAM, NONE+TLS -> TLS, NONE+PLAINTEXT -> plaintext) consumes every topic
of that cluster listed in ``topics`` (comma-separated) or fully matching ``topics.regex``
(``re.fullmatch``, as Java's ``Matcher.matches``). Its consumer group is
``consumer.override.group.id`` or ``connect-<connector name>``; a partition without a committed
offset starts at the earliest offset (``consumer.override.auto.offset.reset`` latest: the end).
Group offsets are kept per (cluster, group) until reset, as Kafka keeps them: a connector deleted
and created again under the same name resumes where the old one committed.

Every ``flush.size`` records of a topic-partition become one object (fewer stay pending; no
rotation intervals), written into moto's S3 (``put_object``) as the sink names them with
JsonFormat and DefaultPartitioner:
``<topics.dir>/<topic>/partition=<p>/<topic>+<p>+<start offset, %010d>.json``
(``topics.dir`` default ``topics``, ``directory.delim`` ``/``, ``file.delim`` ``+``,
``filename.offset.zero.pad.width`` 10; ``s3.compression.type`` gzip adds ``.gz``), content one
JSON value per line, each line ending in ``\\n``. Values through ``value.converter``:
JsonConverter (``schemas.enable`` default true: needs the ``{"schema", "payload"}`` envelope),
StringConverter (a JSON string), ByteArrayConverter (a base64 JSON string); unset: StringConverter
(MSK Connect's default worker configuration). Null values: ``behavior.on.null.values`` (default
fail). A record the converter refuses stops the connector's consumption (a failed task) unless
``errors.tolerance`` is ``all``. A missing bucket (``Non-existent S3 bucket``), a missing
``flush.size``, both or neither of ``topics``/``topics.regex``, or another ``format.class``/
``partitioner.class`` stop it too; the connector stays RUNNING and ``/_sandbox/sink`` shows the
error (consumption resumes once the cause is gone; a real task would wait for a restart).

The sink runs (a tick) after every produce and whenever an S3, kafka or kafkaconnect request
arrives, before it is answered; when a tick is already running then, the request does not wait
for it: that tick goes round once more (MSK Connect's sink runs beside the requests).

The network (``PINFRA_SANDBOX_NETWORK=enforce``, read by scripts/sandbox.py; ``off`` by default;
``/_sandbox/network/settings`` at run time): data goes only where ``network``'s path checks
(the rules of docs/network.md on moto's EC2 state) say it can:

* execute-api to a running instance that the internet cannot reach on the port
  (``internet_to_instance``): the connection is dropped, API Gateway times out (504 "Endpoint
  request timed out"), whatever listens;
* an instance that cannot reach the internet on 443 (``instance_to_internet``): its user-data
  could not download the proxy, so nothing listens (as a stopped stand-in);
* a proxy whose instance cannot reach the brokers (``client_to_brokers``, the port of its
  ``bootstrap.servers``, the cluster's ``clientSubnets``/``securityGroups``): as with no cluster
  (the producer waits for metadata: 50003 after ``max.block.ms``);
* a sink connector whose workers cannot reach the brokers (``connector_to_brokers``) consumes
  nothing; one that cannot reach S3 (``connector_to_s3``) writes nothing and stays RUNNING. The
  worker's log line is the view's ``error`` (and ``last_error``, kept after the cause is gone),
  ``network`` the blocked hop.

MSK IAM access control (``PINFRA_SANDBOX_AUTHZ=enforce``, the default; ``off`` and
``/_sandbox/authz/settings`` as for the network): SASL/IAM clients may do only what their IAM
role's policies allow (``kafka_iam``: who acts, the resource ARNs, the evaluation):

* the REST proxy (as ``awsRoleArn`` of its JAAS line or the instance profile's role): no
  credentials or no ``kafka-cluster:Connect`` -> every record's entry 40101 (HTTP 401, as
  kafka-rest's ``ProduceResponse.getRequestStatus`` makes it); no ``DescribeTopic`` -> 40301 "Not
  authorized to access topics: [t]" (before the metadata wait); no ``WriteDataIdempotently``
  when the ``idempotent_producer`` setting is on (the real 7.6.1 producer is not idempotent:
  KREST-4606) -> 40301 "Cluster authorization failed."; no ``WriteData`` ->
  40301 "Not authorized to access topics: [t]" (HTTP 403). ``GET /topics`` lists only the topics
  it may describe; ``GET /topics/{t}`` without ``DescribeTopic`` (or
  ``DescribeTopicDynamicConfiguration``) -> 403 {"error_code": 40301, "message": "Topic
  authorization failed."};
* the sink (as the connector's service execution role): no ``Connect``, ``DescribeTopic`` of a
  listed topic, ``DescribeGroup``/``AlterGroup`` of its group or ``ReadData`` of a topic -> it
  consumes nothing, stays RUNNING, ``error``/``last_error`` the worker's exception
  (SaslAuthenticationException, TopicAuthorizationException, GroupAuthorizationException) and
  ``authz`` the denied action. With ``topics.regex`` topics it may not describe are left out.

    GET  /_sandbox/restproxy        {"enforce", "authz", "default": "started"|"stopped", "proxies":
                                     [{"instance_id", "region", "state", "host", "listeners",
                                     "started", "bootstrap_servers", "cluster_arn", "network":
                                     {"internet_to_instance": {"<port>": reason|null},
                                     "instance_to_internet", "client_to_brokers"},
                                     "principal": role ARN|null}], "topics":
                                     [{"cluster_arn", "topic", "records", "partitions": {"0": n}}]}
    POST /_sandbox/restproxy/stop   {} (all stand-ins) or {"instance_id": "i-..."}; answers as GET
    POST /_sandbox/restproxy/start  likewise
    GET  /_sandbox/sink             {"connectors": [{"name", "arn", "region", "cluster_arn",
                                     "group", "bucket", "flush_size", "topics", "offsets":
                                     {"<topic>": {"<p>": next offset}}, "pending": {...},
                                     "objects": [key, ...], "error", "last_error", "network",
                                     "authz"}]} (after a tick)
    GET  /_sandbox/network/settings {"enforce": bool}
    POST /_sandbox/network/settings {"enforce": bool}; 400 on anything else
    GET  /_sandbox/authz/settings   {"enforce": bool, "idempotent_producer": bool}
    POST /_sandbox/authz/settings   either or both; 400 on anything else

``POST /moto-api/reset`` forgets the logs, group offsets, boot configurations, controls and
``last_error``s, and restores the network and authz switches to their start-up values.

This package is installed before ``msk_topics``, so that its hook runs the sink before msk_topics
answers a topic call; it reads the topics through ``msk_topics.store()``, the store msk_topics'
install made.

Layout, as ``kafkaconnect/`` (each module's docstring says more):

    kafka.py       the Kafka side: topics as a client sees them now, the serving cluster of a
                   client's bootstrap servers, the in-memory log, MSK IAM for a client (KafkaAuth)
    restproxy.py   the stand-in REST proxy: kafka-rest.properties from the user-data
                   (ProxyConfig), the instances it runs on, the v2 API's parsing and answers
    sink.py        the emulated S3 sink's parts: group offsets, a connector's view, the value
                   converters, the object keys
    controls.py    the network switch's settings; the /_sandbox/restproxy start/stop body
    models.py      DataPath, the state: serves the stand-ins (deliver) and runs the sink (tick)
    __init__.py    install(): the request hook and the /_sandbox/ routes
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from werkzeug.wrappers import Request, Response

from .. import apigateway_compat
from ..core import AwsRequest, Sandbox, json_response, read_body
from ..msk_topics import request_account
from .controls import control_body
from .models import DataPath
from .restproxy import all_instances

HOOK_NAME = "data_path"


# ------------------------------------------------------------------------------- routing
def form_params(environ: dict[str, Any]) -> dict[str, list[str]]:
    """Query and form parameters; the body is put back for moto."""
    params = parse_qs(str(environ.get("QUERY_STRING", "")))
    if str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
        body = read_body(environ)
        for key, values in parse_qs(body.decode("utf-8", "replace")).items():
            params.setdefault(key, []).extend(values)
    return params


def changes_user_data(params: dict[str, list[str]]) -> bool:
    attribute = (params.get("Attribute") or [""])[0]
    return attribute.lower() == "userdata" or any(k.split(".")[0] == "UserData" for k in params)


def install(sandbox: Sandbox) -> None:
    state = DataPath()
    apigateway_compat.add_http_endpoint(state.deliver)

    def hook(request: AwsRequest) -> Response | None:
        service = request.call.service
        if service == "ec2" and request.call.operation == "ModifyInstanceAttribute":
            params = form_params(request.environ)
            instance_id = (params.get("InstanceId") or [""])[0]
            if instance_id and changes_user_data(params):
                account = request_account(request)
                for _region, instance in all_instances(account):
                    if instance.id == instance_id:
                        state.remember_boot_config(account, instance)
        elif service in ("s3", "kafka", "kafkaconnect"):
            state.tick(wait=False)
        return None

    def control(started: bool) -> Any:
        def handler(request: Request) -> Response:
            try:
                body = control_body(request)
            except ValueError as err:
                return json_response({"error": str(err)}, 400)
            state.set_started(started, body.get("instance_id"))
            return json_response(state.proxies_json())

        return handler

    sandbox.add_control_route("GET", "/_sandbox/restproxy", lambda _r: json_response(state.proxies_json()))
    sandbox.add_control_route("POST", "/_sandbox/restproxy/stop", control(False))
    sandbox.add_control_route("POST", "/_sandbox/restproxy/start", control(True))
    sandbox.add_control_route("GET", "/_sandbox/sink", lambda _r: json_response(state.sink_json()))

    def post_network(request: Request) -> Response:
        try:
            changes = json.loads(request.get_data() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            return json_response(state.network.update(changes))
        except ValueError as err:
            return json_response({"error": str(err)}, 400)

    sandbox.add_control_route("GET", "/_sandbox/network/settings", lambda _r: json_response(state.network.snapshot()))
    sandbox.add_control_route("POST", "/_sandbox/network/settings", post_network)

    def post_authz(request: Request) -> Response:
        try:
            changes = json.loads(request.get_data() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            return json_response(state.authz.update(changes))
        except ValueError as err:
            return json_response({"error": str(err)}, 400)

    sandbox.add_control_route("GET", "/_sandbox/authz/settings", lambda _r: json_response(state.authz.snapshot()))
    sandbox.add_control_route("POST", "/_sandbox/authz/settings", post_authz)
    sandbox.add_request_hook(HOOK_NAME, hook)
    sandbox.add_reset_hook(state.reset)
