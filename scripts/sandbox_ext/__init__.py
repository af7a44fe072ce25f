"""pinfra AWS sandbox: the parts of scripts/sandbox.py beyond plain moto.

Layout
    core.py   Sandbox, the WSGI app wrapping moto (control routes, call log,
              latency, request/reset hooks).
    calls.py  how a request becomes (service, operation, mutating).
    <name>.py one module per extension, listed in MIDDLEWARE (quotas, faults, chaos: in
              front of every emulator) or EMULATORS below; EXTENSIONS is both, in install order.
    <name>/   an emulator grown past one idea, laid out as moto lays out a service
              (kafkaconnect/: exceptions, checks, models, routes, responses, controls;
              data_path/: kafka, restproxy, sink, controls, models;
              apigateway_compat/: execute_api, control_plane).

Writing an extension
    Add ``sandbox_ext/<name>.py`` defining ``install(sandbox: Sandbox) -> None``
    and add ``"<name>"`` to EMULATORS (or, for something every call must pass
    first, MIDDLEWARE). ``install`` runs once, before the
    server binds, and may:

    * ``sandbox.add_request_hook(name, hook)``: ``hook(AwsRequest)`` sees every
      AWS request (``.call.service``/``.call.operation``/``.method``/``.path``,
      ``.environ``) and may answer it by returning a werkzeug ``Response``.
      This is the place for services moto lacks (kafkaconnect; execute-api,
      which moto would otherwise route to iot), operations moto lacks (MSK
      topic API, GetBootstrapBrokers, cluster updates) and fault injection.
      ``sandbox.forward(request, after=name)`` lets the request take effect (later
      hooks, then moto) and hands back that answer, e.g. to lose it.
    * ``sandbox.add_control_route(method, "/_sandbox/...", handler)``: test
      controls, e.g. arming a fault.
    * ``sandbox.add_reset_hook(fn)``: clear extension state on
      ``POST /moto-api/reset``.
    * ``sandbox.add_backend_url_pattern(service, regex)``: route a host to an
      existing ``moto.<service>`` backend.
    * patch moto's models directly (keep such patches small and say why).
"""

from __future__ import annotations

import importlib

from .core import Sandbox

# The ordered middleware: every AWS request passes core.Sandbox's call log and latency, then these
# request hooks in this order, before any emulator may answer it. They answer for no service of
# their own; they only make calls fail, slow down or kill the client.
MIDDLEWARE: tuple[str, ...] = (
    # GET|POST|DELETE /_sandbox/quotas: AWS's documented request quotas as token buckets, the
    # service's throttling error over them (off by default). First: after the call log (a
    # throttled call is logged, flagged) and latency (its answer still travels the network), before
    # faults and chaos (a throttled call never reaches the service: it fires no fault, draws no
    # chaos, counts for no kill point).
    "quotas",
    "faults",  # armed faults: make the next matching calls fail (tests of partial applies)
    # POST /_sandbox/chaos: random faults at a seeded rate; POST /_sandbox/kill: kill a client at
    # its N-th mutating call. Right after faults: an armed fault answers before chaos draws.
    "chaos",
)

# The service emulators, after the middleware (so that armed faults and chaos also hit the calls
# these answer), in this order; their request hooks run in the same order.
EMULATORS: tuple[str, ...] = (
    "msk_compat",  # MSK timestamps with an offset; 404 NotFoundException for unknown ARNs
    "msk_settings",  # GET/POST /_sandbox/msk/settings: MSK delays and formats
    # EC2 instances: ClientToken idempotency, state checks and delays, profile errors (after
    # faults, so that an "after" fault's call goes through it).
    "ec2_compat",
    # EC2 networking as AWS sets it up (default VPC's internet gateway, default group's rule,
    # blackhole routes, gateway endpoints' routes and conflicts, DescribePrefixLists' Cidrs, root
    # device, an instance's groups): model patches only, which network.py's path checks read.
    "ec2_network",
    # After faults, so that armed faults also hit the calls these answer; msk_clusters before
    # msk_topics, so that cluster transitions are settled before a topic call looks.
    "msk_clusters",  # MSK cluster states, CreateClusterV2 kept whole, in-place updates, deletion
    # The data path: stand-in REST proxies on EC2 instances, a Kafka log per cluster, the emulated
    # S3 sink, held to the EC2 network (network.py) and MSK IAM access control (kafka_iam.py).
    # Before msk_topics, so that its hook, which only looks (first-boot user-data) and runs the
    # sink, answering nothing, sees the topic calls msk_topics answers; it reads msk_topics'
    # store through msk_topics.store().
    "data_path",
    "msk_topics",  # MSK topic API, GetBootstrapBrokers
    # MSK Connect (moto has none): custom plugins, worker configurations, connectors and their
    # operations, tags; after faults, so that armed faults also hit it.
    "kafkaconnect",
    # execute-api invocations (/restapis/{id}/{stage}/_user_request_/...), deployments kept as
    # snapshots, HTTP_PROXY integrations to in-process endpoints (data_path's stand-ins), tags by
    # REST API ARN, DeleteUsagePlan refused while the plan lists API stages; after faults, so
    # that an "after" fault on CreateDeployment still takes the snapshot.
    "apigateway_compat",
    # GetBucketVersioning's answer as S3 sends it; the bucket owner condition
    # (x-amz-expected-bucket-owner); DeleteObjects/DeleteObject refusing keys on request
    # (/_sandbox/s3/refuse-delete). Last, so that armed faults and chaos hit a call before it is
    # refused, an "after" fault's call is refused too, and data_path's sink still runs first.
    "s3_compat",
)

# Installed in this order; request hooks run in the same order.
EXTENSIONS: tuple[str, ...] = MIDDLEWARE + EMULATORS


def install_all(sandbox: Sandbox, names: tuple[str, ...] = EXTENSIONS) -> None:
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        module.install(sandbox)
