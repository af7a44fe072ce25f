"""MSK IAM access control for the data path (``PINFRA_SANDBOX_AUTHZ``): which IAM role a Kafka
client of the pipeline acts as, and whether that role's policies (in moto's IAM backend) allow a
``kafka-cluster:`` action on an MSK resource. A library for ``data_path`` (not an extension of its
own), as ``network`` is.

Who acts (the principal):

* the stand-in REST proxy on the EC2 Kafka client: its ``client.sasl.jaas.config`` names
  ``awsRoleArn`` → that role, when it exists and the instance's role may assume it (its trust policy
  names the instance role, or ``*``/the account with an identity policy of the instance role that
  allows ``sts:AssumeRole`` on it); else the role of the instance's instance profile
  (aws-msk-iam-auth's ``MSKCredentialProvider`` puts the STS assume-role provider first and falls
  back to the default chain, i.e. the instance profile); else no credentials at all;
* the emulated S3 sink: the connector's ``serviceExecutionRoleArn`` (MSK Connect's workers act as
  it; its trust policy is not checked).

Resources, as the MSK developer guide's "IAM access control" / "Semantics of IAM authorization
policy actions and resources" page derives them from the cluster ARN
``arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>-<n>``:
``…:topic/<name>/<uuid>-<n>/<topic>`` and ``…:group/<name>/<uuid>-<n>/<group>``.

Evaluation (the IAM guide's "Policy evaluation logic", reduced to what a single role in its own
account needs): the role's inline policies and the default versions of its attached managed
policies; an explicit ``Deny`` wins, else an ``Allow`` allows, else it is denied (implicit deny);
a permissions boundary, when the role has one, must allow it too. ``Action``/``NotAction`` match
case-insensitively, ``Resource``/``NotResource`` case-sensitively, both with ``*`` (any run of
characters, ``/`` and ``:`` included) and ``?`` (one character). Not evaluated: ``Condition``
blocks (fail closed: an ``Allow`` with a ``Condition`` does not apply, a ``Deny`` with one does),
policy variables, session policies, SCPs, resource-based policies (MSK cluster policies).

MSK has **no implied actions**: its "Common use cases for client authorization policy" page says
"Actions are denied by default. You must explicitly allow every action that you want to authorize
the client to perform", and its actions table lists "Required actions" that a policy must grant
*as well* (``WriteData`` needs ``DescribeTopic`` granted too, ``AlterGroup`` needs
``DescribeGroup``; Kafka's own ACLs, by contrast, imply DESCRIBE from READ/WRITE). The one
exception MSK documents ("Create authorization policies for the IAM role", the note on KIP-679):
``WriteDataIdempotently`` on the cluster is allowed when ``WriteData`` is allowed on **all** topics
of the cluster; ``WriteData`` on some topics does not carry it, so an idempotent producer (Kafka
clients from 3.0 on, KAFKA-13598) needs it granted explicitly. "All topics" is judged by asking the
policies about topic names only wildcards can match.

The Confluent REST Proxy is *not* such a producer: since 7.0.2/7.1.0 (KREST-4606, kafka-rest commit
a9d6285 "Disable producer idempotency until KAFKA-13668 is fixed"), ``KafkaRestConfig.
getProducerProperties`` puts ``enable.idempotence=false`` whatever the configuration says, because
an idempotent producer's authorization errors were permanent. So the stand-in (7.6.1) needs no
``WriteDataIdempotently`` unless the ``idempotent_producer`` setting (``PINFRA_SANDBOX_IDEMPOTENT_PRODUCER``)
makes it stand for an idempotent Kafka producer (e.g. ``kafka-console-producer.sh`` 3.6 with the
instance's ``client.properties``, or a REST proxy before 7.0.2).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

AUTHZ_ENV = "PINFRA_SANDBOX_AUTHZ"
AUTHZ_MODES = {"enforce": True, "off": False}
DEFAULT_AUTHZ = "enforce"
IDEMPOTENT_ENV = "PINFRA_SANDBOX_IDEMPOTENT_PRODUCER"
IDEMPOTENT_MODES = {"true": True, "false": False}
SETTINGS = ("enforce", "idempotent_producer")

CONNECT = "kafka-cluster:Connect"
DESCRIBE_TOPIC = "kafka-cluster:DescribeTopic"
DESCRIBE_TOPIC_CONFIGS = "kafka-cluster:DescribeTopicDynamicConfiguration"
WRITE_DATA = "kafka-cluster:WriteData"
WRITE_IDEMPOTENTLY = "kafka-cluster:WriteDataIdempotently"
READ_DATA = "kafka-cluster:ReadData"
DESCRIBE_GROUP = "kafka-cluster:DescribeGroup"
ALTER_GROUP = "kafka-cluster:AlterGroup"

# Topic names no policy names literally (Kafka allows only [a-zA-Z0-9._-], at most 249 characters):
# a resource pattern that matches both covers every topic of the cluster.
ANY_TOPIC_PROBES = ("\x00", "\x00" * 249)

# What a Kafka client's exception says (org.apache.kafka.common.errors.*). MSK IAM checks
# kafka-cluster:Connect while authenticating (aws-msk-iam-auth signs Action=kafka-cluster:Connect;
# MSK answers "[<request id>]: Access denied", e.g. dpkp/kafka-python#2638, aws/aws-msk-iam-auth#125).
NO_CREDENTIALS = (
    "An error: (java.security.PrivilegedActionException: javax.security.sasl.SaslException: Failed to find AWS IAM "
    "Credentials) occurred when evaluating SASL token received from the Kafka Broker. Kafka Client will go to "
    "AUTHENTICATION_FAILED state."
)
# Kafka's Errors.CLUSTER_AUTHORIZATION_FAILED message: what an idempotent producer's InitProducerId
# fails with when IDEMPOTENT_WRITE (WriteDataIdempotently) is not granted.
CLUSTER_AUTHORIZATION_FAILED = "Cluster authorization failed."
# Kafka's Errors.TOPIC_AUTHORIZATION_FAILED message (what the admin client's describeTopics reports).
TOPIC_AUTHORIZATION_FAILED = "Topic authorization failed."


def access_denied(principal: str, cluster_arn: str) -> str:
    """MSK's answer to a failed authentication (a stable request id per principal and cluster)."""
    return f"[{uuid.uuid5(uuid.NAMESPACE_URL, principal + ' ' + cluster_arn)}]: Access denied"


def topics_denied(topics: list[str]) -> str:
    """TopicAuthorizationException(Set<String>)'s message (Java's Set.toString)."""
    return f"Not authorized to access topics: [{', '.join(sorted(topics))}]"


def group_denied(group: str) -> str:
    """GroupAuthorizationException.forGroupId's message."""
    return f"Not authorized to access group: {group}"


# ------------------------------------------------------------------------------ settings
def settings_from_env() -> dict[str, Any]:
    """``enforce``: MSK IAM access control on; ``idempotent_producer``: the REST proxy's producer
    is idempotent (needs WriteDataIdempotently), which the real 7.6.1 one is not."""
    raw = (os.environ.get(AUTHZ_ENV) or DEFAULT_AUTHZ).strip().lower()
    if raw not in AUTHZ_MODES:
        raise SystemExit(f"sandbox: ${AUTHZ_ENV}: expected enforce or off, got {raw!r}")
    idempotent = (os.environ.get(IDEMPOTENT_ENV) or "false").strip().lower()
    if idempotent not in IDEMPOTENT_MODES:
        raise SystemExit(f"sandbox: ${IDEMPOTENT_ENV}: expected true or false, got {idempotent!r}")
    return {"enforce": AUTHZ_MODES[raw], "idempotent_producer": IDEMPOTENT_MODES[idempotent]}


def validate_setting(key: str, value: Any) -> Any:
    if key not in SETTINGS:
        raise ValueError(f"unknown setting {key!r}; known: {', '.join(SETTINGS)}")
    if not isinstance(value, bool):
        raise ValueError(f"{key}: expected true or false, got {value!r}")
    return value


# ----------------------------------------------------------------------------- resources
def resource_arn(cluster_arn: str, kind: str, name: str) -> str:
    """``…:cluster/<name>/<uuid>-<n>`` → ``…:<kind>/<name>/<uuid>-<n>/<name>`` (kind: topic, group)."""
    return cluster_arn.replace(":cluster/", f":{kind}/", 1) + "/" + name


def topic_arn(cluster_arn: str, topic: str) -> str:
    return resource_arn(cluster_arn, "topic", topic)


def group_arn(cluster_arn: str, group: str) -> str:
    return resource_arn(cluster_arn, "group", group)


# ------------------------------------------------------------------------------ policies
@lru_cache(maxsize=4096)
def wildcard(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    parts = ("[\\s\\S]*" if c == "*" else "[\\s\\S]" if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE if case_insensitive else 0)


def matches(patterns: list[str], value: str, case_insensitive: bool) -> bool:
    return any(wildcard(p, case_insensitive).fullmatch(value) for p in patterns)


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@dataclass(frozen=True)
class Statement:
    effect: str  # Allow | Deny
    actions: tuple[str, ...] | None  # Action (None: NotAction is used)
    not_actions: tuple[str, ...]
    resources: tuple[str, ...] | None  # Resource (None: NotResource is used)
    not_resources: tuple[str, ...]
    conditional: bool
    source: str  # which policy, for the reason

    def action_applies(self, action: str) -> bool:
        if self.actions is not None:
            return matches(list(self.actions), action, True)
        return not matches(list(self.not_actions), action, True)

    def resource_applies(self, resource: str) -> bool:
        if self.resources is not None:
            return matches(list(self.resources), resource, False)
        return not matches(list(self.not_resources), resource, False)

    def applies(self, action: str, resource: str) -> bool:
        if self.conditional and self.effect == "Allow":
            return False  # Conditions are not evaluated: an Allow that depends on one does not count.
        return self.action_applies(action) and self.resource_applies(resource)


def statements_of(text: Any) -> list[Any]:
    """The ``Statement`` list of a policy document: JSON text (IAM hands documents out URL-encoded;
    moto keeps them as submitted) or already parsed."""
    doc = text
    if isinstance(text, str):
        doc = None
        for raw in (text, unquote(text)):
            try:
                doc = json.loads(raw)
                break
            except ValueError:
                continue
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    if isinstance(statements, dict):
        return [statements]
    return statements if isinstance(statements, list) else []


def parse_document(text: Any, source: str) -> list[Statement]:
    """An IAM policy document (JSON text, URL-encoded or not, or already parsed)."""
    out = []
    for s in statements_of(text):
        if not isinstance(s, dict):
            continue
        effect = str(s.get("Effect", ""))
        if effect not in ("Allow", "Deny"):
            continue
        out.append(
            Statement(
                effect=effect,
                actions=tuple(as_list(s["Action"])) if "Action" in s else None,
                not_actions=tuple(as_list(s.get("NotAction"))),
                resources=tuple(as_list(s["Resource"])) if "Resource" in s else None,
                not_resources=tuple(as_list(s.get("NotResource"))),
                conditional=bool(s.get("Condition")),
                source=source,
            )
        )
    return out


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # why: "allowed by …", "explicitly denied by …", "no statement allows it"


def decide(statements: list[Statement], action: str, resource: str) -> str | None:
    """'Deny' (an explicit deny applies), 'Allow', or None (nothing applies)."""
    allowed = None
    for statement in statements:
        if statement.applies(action, resource):
            if statement.effect == "Deny":
                return f"Deny:{statement.source}"
            allowed = allowed or f"Allow:{statement.source}"
    return allowed


@dataclass
class Principal:
    """An IAM role as a Kafka client acts with it."""

    arn: str
    statements: list[Statement] = field(default_factory=list)
    boundary: list[Statement] | None = None  # the permissions boundary's statements, when set

    def decide(self, action: str, resource: str) -> Decision:
        found = decide(self.statements, action, resource)
        if found and found.startswith("Deny:"):
            return Decision(False, f"explicitly denied by {found[5:]}")
        if found is None:
            return Decision(False, "no statement of the role's policies allows it")
        if self.boundary is not None:
            limit = decide(self.boundary, action, resource)
            if limit is None or limit.startswith("Deny:"):
                return Decision(False, "the role's permissions boundary does not allow it")
        return Decision(True, f"allowed by {found[6:]}")

    def kafka(self, action: str, resource: str, cluster_arn: str) -> Decision:
        """As MSK decides: ``decide``, plus WriteDataIdempotently when WriteData covers every topic."""
        decision = self.decide(action, resource)
        if decision.allowed or action != WRITE_IDEMPOTENTLY or decision.reason.startswith("explicitly"):
            return decision
        probes = [self.decide(WRITE_DATA, topic_arn(cluster_arn, name)) for name in ANY_TOPIC_PROBES]
        if all(p.allowed for p in probes):
            return Decision(True, f"implied by kafka-cluster:WriteData on every topic ({probes[0].reason})")
        return decision


def iam_backend(account: str, partition: str = "aws") -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account][partition]


def role_by_arn(account: str, arn: str) -> Any | None:
    partition = arn.split(":")[1] if arn.count(":") >= 5 else "aws"
    try:
        return iam_backend(account, partition).get_role_by_arn(arn)
    except Exception:  # noqa: BLE001 - moto's NotFoundException (and a malformed ARN)
        return None


def principal_of(account: str, role: Any) -> Principal:
    """The role's inline and attached managed policies, and its permissions boundary."""
    statements: list[Statement] = []
    for name, document in list(role.policies.items()):
        statements.extend(parse_document(document, f"inline policy {name} of role {role.name}"))
    for arn, policy in list(role.managed_policies.items()):
        statements.extend(parse_document(default_document(policy), f"managed policy {arn}"))
    boundary: list[Statement] | None = None
    if getattr(role, "permissions_boundary_arn", None):
        boundary = []
        try:
            policy = iam_backend(account, role.partition).get_policy(role.permissions_boundary_arn)
            boundary = parse_document(default_document(policy), f"permissions boundary {role.permissions_boundary_arn}")
        except Exception:  # noqa: BLE001 - a boundary that is gone allows nothing
            boundary = []
    return Principal(role.arn, statements, boundary)


def default_document(policy: Any) -> str:
    for version in list(policy.versions):
        if version.is_default:
            return str(version.document)
    return ""


# ---------------------------------------------------------------------- who is acting
def instance_role(account: str, instance: Any) -> Any | None:
    """The role of the instance's instance profile as IAM has it now, or None."""
    profile = getattr(instance, "iam_instance_profile", None)
    arn = profile.get("Arn") if isinstance(profile, dict) else None
    if not arn:
        return None
    partition = arn.split(":")[1] if arn.count(":") >= 5 else "aws"
    try:
        found = iam_backend(account, partition).get_instance_profile_by_arn(arn)
    except Exception:  # noqa: BLE001 - the profile was deleted
        return None
    roles = list(found.roles or [])
    return roles[0] if roles else None


def may_assume(account: str, target: Any, caller: Any) -> bool:
    """Whether ``caller`` (a role) may sts:AssumeRole ``target`` in the same account: the trust
    policy names the caller's ARN (enough on its own), or ``*``/the account (then the caller's own
    policies must allow sts:AssumeRole on the target too); an explicit Deny in either wins."""
    named = wide = False
    for s in statements_of(target.assume_role_policy_document):
        if not isinstance(s, dict) or not matches(as_list(s.get("Action")), "sts:AssumeRole", True):
            continue
        principal = s.get("Principal")
        aws = as_list(principal.get("AWS")) if isinstance(principal, dict) else as_list(principal)
        hit_named = caller.arn in aws
        hit_wide = any(p in ("*", account, f"arn:aws:iam::{account}:root") for p in aws)
        if s.get("Effect") == "Deny" and (hit_named or hit_wide):
            return False
        if s.get("Effect") == "Allow" and not s.get("Condition"):
            named, wide = named or hit_named, wide or hit_wide
    if not (named or wide):
        return False
    own = principal_of(account, caller).decide("sts:AssumeRole", target.arn)
    if own.reason.startswith("explicitly"):
        return False
    return named or own.allowed


JAAS_ROLE = re.compile(r"""\bawsRoleArn\s*=\s*"?([^";\s]+)"?""")


def jaas_role_arn(jaas_config: str) -> str | None:
    """``awsRoleArn`` of an ``IAMLoginModule required …;`` JAAS line, if any."""
    match = JAAS_ROLE.search(jaas_config or "")
    return match[1] if match else None


def proxy_principal(account: str, instance: Any, role_arn: str | None) -> Principal | None:
    """The role the REST proxy's Kafka clients act as (see the module docstring), or None."""
    base = instance_role(account, instance)
    if role_arn and base is not None:
        target = role_by_arn(account, role_arn)
        if target is not None and may_assume(account, target, base):
            return principal_of(account, target)
    return principal_of(account, base) if base is not None else None


def connector_principal(account: str, role_arn: str | None) -> Principal | None:
    role = role_by_arn(account, role_arn) if role_arn else None
    return principal_of(account, role) if role is not None else None
