"""The pipeline's network paths, judged on moto's EC2 state with the rules of docs/network.md.

Not an extension (nothing to install): ``data_path`` asks these functions before it lets data
through, and ``ec2_network`` uses ``route_state`` for DescribeRouteTables. pinfra's
``src/network/paths.rs`` applies the same rules to what its Describe* calls read; a path open
here is open there, and a blocked one is blocked at the same hop.

Each path function returns ``None`` when the path is open, else one sentence naming the first
hop that blocks it. The hops, in order (docs/network.md, "The rules of the check"), for every
source subnet, then every destination subnet:

1. same VPC: both ends of an in-VPC path are in one VPC (peering and transit gateways are not
   followed); a subnet that does not exist blocks too;
2. route: inside the VPC the ``local`` route carries everything. Out of it, the source subnet's
   route table (its explicit association, else the VPC's main table) must have a route covering
   the destination: the most specific one wins (a prefix-list route counts with the length of
   the list's entry that holds the address; on a tie the CIDR route wins, as AWS's route
   priority). The internet is ``0.0.0.0/0``; S3 is every entry of the Region's S3 prefix list
   (``com.amazonaws.<region>.s3``), each of which must be carried. ``igw-`` carries only an end
   with a public address, and only when attached to the VPC; ``nat-`` only when ``available``
   and its own subnet routes ``0.0.0.0/0`` to an attached internet gateway; ``vpce-`` only an
   available S3 gateway endpoint of the Region serving that table; a blackhole route (its
   target gone, see ``route_state``) and any other target carry nothing. From the internet
   (API Gateway -> proxy): the subnet must route ``0.0.0.0/0`` to an internet gateway and the
   instance needs a public address;
3. security groups, stateful (only the first direction): an egress rule of one of the source's
   groups and an ingress rule of one of the destination's groups, protocol ``tcp``/``6``/``-1``,
   the port in its range (all ports for ``-1``), and a peer holding the other end: a CIDR
   holding its address (its whole subnet when the address is not known: brokers, connector
   workers), one of its groups, or for S3 the Region's S3 prefix list. The internet and S3
   match only ``0.0.0.0/0`` (and S3 its prefix list). No groups given: the VPC's default group
   (what MSK, and an ENI made without groups, use);
4. network ACLs, stateless, at each subnet's edge (not between two addresses of one subnet):
   the subnet's explicit association, else the VPC's default ACL. Entries in rule-number
   order; the first that applies decides; none: the final ``*`` denies. An entry applies when
   its protocol is ``6``/``-1``, its port range meets the ports and its CIDR meets the peer's
   range; it allows only if it holds all of them, else an allow is passed over and the next
   entry decides. Towards or from the internet (and S3) only ``0.0.0.0/0`` entries apply.
   Four checks: the source's outbound and the destination's inbound on the port, then the
   destination's outbound and the source's inbound on the return ports: 32768-60999 towards
   a Linux host (the Kafka client, MSK Connect workers), 1024-65535 towards anything else (API
   Gateway).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

BROKER_PORT = 9098  # SASL/IAM
HTTPS = 443
EPHEMERAL_LINUX = (32768, 60999)  # net.ipv4.ip_local_port_range: the Kafka client, MSK Connect workers
EPHEMERAL_ANY = (1024, 65535)  # anything else (API Gateway): AWS's network ACL guide
ALL_IPV4 = ipaddress.IPv4Network("0.0.0.0/0")
LAST_RULE = 32767  # the "*" entry of every network ACL, as DescribeNetworkAcls numbers it
GONE_NAT = ("deleting", "deleted", "failed")

Network = ipaddress.IPv4Network


class Blocked(Exception):
    """The hop that blocks a path; ``str()`` is the sentence."""


# ------------------------------------------------------------------------------ the ends
@dataclass(frozen=True)
class Place:
    """One end of a path inside a VPC."""

    what: str  # "the Kafka client", "the brokers", "the connector"
    subnets: tuple[str, ...]
    groups: tuple[str, ...]
    address: ipaddress.IPv4Address | None = None  # its private address, when known (one subnet)
    public_ip: bool = False


@dataclass(frozen=True)
class Hosts:
    """A peer inside the VPC: a block of addresses, members of some groups."""

    what: str
    block: Network
    groups: frozenset[str]


@dataclass(frozen=True)
class Outside:
    """The internet or S3: no fixed addresses; S3 also matches its prefix list (in a security
    group rule: network ACLs have no prefix lists)."""

    what: str  # as a network ACL sees it
    prefix_list: str | None = None

    @property
    def rule_what(self) -> str:
        """As a security-group rule sees it."""
        return f"{self.what[:-1]} or S3's prefix list {self.prefix_list})" if self.prefix_list else self.what


Peer = Hosts | Outside
INTERNET = Outside("the internet (0.0.0.0/0)")


def parse_cidr(text: Any) -> Network | None:
    try:
        return ipaddress.IPv4Network(str(text), strict=False)
    except ValueError:
        return None


def ports_text(ports: tuple[int, int]) -> str:
    return f"TCP {ports[0]}" if ports[0] == ports[1] else f"TCP {ports[0]}-{ports[1]}"


# ---------------------------------------------------------------------- moto's EC2 state
class Ec2:
    """Read-only lookups in one moto EC2 backend (account, region)."""

    def __init__(self, account: str, region: str) -> None:
        from moto.ec2.models import ec2_backends

        self.region = region
        self.backend = ec2_backends[account][region]

    def subnet(self, subnet_id: str) -> Any | None:
        for per_zone in list(self.backend.subnets.values()):
            subnet = per_zone.get(subnet_id)
            if subnet is not None:
                return subnet
        return None

    def route_table(self, subnet: Any) -> Any | None:
        """The subnet's explicit association, else its VPC's main table."""
        tables = [t for t in list(self.backend.route_tables.values()) if t.vpc_id == subnet.vpc_id]
        explicit = [t for t in tables if subnet.id in list(t._associations.values())]
        if explicit:
            return explicit[0]
        return next((t for t in tables if t.main_association_id is not None), None)

    def acl(self, subnet: Any) -> Any | None:
        """The subnet's explicit association, else its VPC's default ACL."""
        acls = [a for a in list(self.backend.network_acls.values()) if a.vpc_id == subnet.vpc_id]
        explicit = [a for a in acls if any(x.subnet_id == subnet.id for x in list(a._associations.values()))]
        if explicit:
            return explicit[0]
        return next((a for a in acls if a.default), None)

    def group(self, group_id: str) -> Any | None:
        for per_vpc in list(self.backend.groups.values()):
            group = per_vpc.get(group_id)
            if group is not None:
                return group
        return None

    def default_group(self, vpc_id: str) -> Any | None:
        return next((g for g in list(self.backend.groups.get(vpc_id, {}).values()) if g.is_default), None)

    def s3_prefix_list(self) -> Any | None:
        name = f"com.amazonaws.{self.region}.s3"
        return next((p for p in list(self.backend.managed_prefix_lists.values()) if p.prefix_list_name == name), None)

    def instance_place(self, instance: Any, what: str = "the Kafka client") -> Place:
        nic = instance.nics.get(0) if instance.nics else None
        # The primary interface's groups (ec2_network keeps the instance's list equal to them; plain
        # moto keeps NetworkInterfaces' Groups on the interface only).
        groups = [g.id for g in list(instance.security_groups or getattr(nic, "_group_set", None) or [])]
        address = ipaddress.IPv4Address(instance.private_ip) if instance.private_ip else None
        subnets = (instance.subnet_id,) if instance.subnet_id else ()
        return Place(what, subnets, tuple(dict.fromkeys(groups)), address, bool(instance.public_ip))


def prefix_list_entries(prefix_list: Any) -> list[Network]:
    """The CIDRs of a managed prefix list (its latest version)."""
    if prefix_list is None or not prefix_list.entries:
        return []
    latest = prefix_list.entries.get(prefix_list.version) or list(prefix_list.entries.values())[-1]
    return [n for n in (parse_cidr(e.get("Cidr")) for e in latest or []) if n is not None]


# -------------------------------------------------------------------------------- routes
def target_of(route: Any) -> str:
    """The id a route sends traffic to (``local``, ``igw-…``, ``nat-…``, ``vpce-…``, …)."""
    if route.local:
        return "local"
    for attribute in ("gateway", "nat_gateway", "transit_gateway", "vpc_pcx", "interface", "instance", "egress_only_igw", "carrier_gateway"):
        target = getattr(route, attribute, None)
        if target is not None:
            return str(target.id)
    return str(getattr(route, "vpc_endpoint_id", None) or "an unknown target")


def route_state(backend: Any, route: Any) -> str:
    """``blackhole`` when the route's target is gone (a deleted NAT gateway or endpoint, an
    internet gateway no longer attached to the table's VPC, a deleted interface or a terminated
    instance), else ``active``, as DescribeRouteTables reports it."""
    if route.local:
        return "active"
    vpc_id = route.route_table.vpc_id
    gateway = route.gateway
    if gateway is not None:
        gateway_id = str(gateway.id)
        if gateway_id.startswith("igw-"):
            attached = backend.internet_gateways.get(gateway_id) is gateway and gateway.vpc is not None and gateway.vpc.id == vpc_id
            return "active" if attached else "blackhole"
        if gateway_id.startswith("vpce-"):
            endpoint = backend.vpc_end_points.get(gateway_id)
            return "active" if endpoint is not None and endpoint.state == "available" else "blackhole"
    if route.nat_gateway is not None:
        nat = backend.nat_gateways.get(route.nat_gateway.id)
        return "blackhole" if nat is None or nat.state in GONE_NAT else "active"
    if route.interface is not None and route.interface.id not in backend.enis:
        return "blackhole"
    if route.instance is not None and route.instance.state in ("shutting-down", "terminated"):
        return "blackhole"
    return "active"


def best_route(table: Any, destination: Network) -> Any | None:
    """The most specific route of ``table`` covering all of ``destination``: a CIDR route whose
    block holds it, or a prefix-list route whose list has an entry holding it (counted with that
    entry's length); on equal length the CIDR route wins."""
    best, best_key = None, (-1, -1)
    for route in list(table._routes.values()):
        if route.destination_cidr_block:
            block = parse_cidr(route.destination_cidr_block)
            if block is None or not destination.subnet_of(block):
                continue
            key = (block.prefixlen, 1)
        elif route.destination_prefix_list is not None:
            lengths = [e.prefixlen for e in prefix_list_entries(route.destination_prefix_list) if destination.subnet_of(e)]
            if not lengths:
                continue
            key = (max(lengths), 0)
        else:
            continue  # IPv6
        if key > best_key:
            best, best_key = route, key
    return best


def routes_to_internet_gateway(ec2: Ec2, subnet: Any) -> tuple[Any | None, Any | None]:
    """(route table, its 0.0.0.0/0 route) when that route goes to an attached internet gateway."""
    table = ec2.route_table(subnet)
    if table is None:
        return None, None
    route = best_route(table, ALL_IPV4)
    if route is None or not target_of(route).startswith("igw-") or route_state(ec2.backend, route) != "active":
        return table, None
    return table, route


def carry(ec2: Ec2, place: Place, subnet: Any, destinations: list[Network], where: str, s3: bool) -> None:
    """The route out of ``subnet`` to each of ``destinations`` carries ``place``'s traffic."""
    table = ec2.route_table(subnet)
    if table is None:
        raise Blocked(f"subnet {subnet.id} has no route table and VPC {subnet.vpc_id} no main one")
    for destination in destinations:
        route = best_route(table, destination)
        if route is None:
            if s3:
                raise Blocked(f"route table {table.id} of subnet {subnet.id} has no route to S3 (no gateway endpoint, no NAT gateway)")
            raise Blocked(f"route table {table.id} of subnet {subnet.id} has no route to the internet (0.0.0.0/0)")
        target = target_of(route)
        covers = route.destination_cidr_block or getattr(route.destination_prefix_list, "id", "?")
        if route_state(ec2.backend, route) == "blackhole":
            raise Blocked(f"route table {table.id} of subnet {subnet.id} sends {covers} to {target}, a blackhole route (its target is gone)")
        if target.startswith("igw-"):
            if not place.public_ip:
                raise Blocked(f"{place.what} in subnet {subnet.id} has no public address, so internet gateway {target} carries none of its traffic to {where}")
            continue
        if target.startswith("nat-"):
            nat = ec2.backend.nat_gateways[target]
            if nat.state != "available":
                raise Blocked(f"NAT gateway {target} of route table {table.id} is not available ({nat.state})")
            nat_subnet = ec2.subnet(nat.subnet_id)
            if nat_subnet is None or routes_to_internet_gateway(ec2, nat_subnet)[1] is None:
                raise Blocked(f"NAT gateway {target} sits in subnet {nat.subnet_id}, which does not route 0.0.0.0/0 to an internet gateway")
            continue
        if target.startswith("vpce-"):
            endpoint = ec2.backend.vpc_end_points[target]
            serves = (
                str(endpoint.vpc_endpoint_type or "Gateway").lower() == "gateway"
                and endpoint.service_name == f"com.amazonaws.{ec2.region}.s3"
                and table.id in endpoint.route_table_ids
            )
            if s3 and serves:
                continue
            raise Blocked(f"route table {table.id} of subnet {subnet.id} sends {covers} to endpoint {target}, which is not an S3 gateway endpoint serving it")
        raise Blocked(f"route table {table.id} of subnet {subnet.id} sends {covers} to {target}, which is not followed (only internet and NAT gateways and S3 gateway endpoints are)")


# ------------------------------------------------------------------------ security groups
def protocol_is_tcp(protocol: Any) -> bool:
    return str(protocol).lower() in ("tcp", "6", "-1", "all")


def rule_admits(ec2: Ec2, rule: Any, port: int, peer: Peer) -> bool:
    if not protocol_is_tcp(rule.ip_protocol):
        return False
    if str(rule.ip_protocol).lower() not in ("-1", "all"):
        if rule.from_port is None or rule.to_port is None or not int(rule.from_port) <= port <= int(rule.to_port):
            return False
    cidr = parse_cidr(rule.ip_range.get("CidrIp")) if rule.ip_range.get("CidrIp") else None
    group = (rule.source_group or {}).get("GroupId")
    if group is None and (rule.source_group or {}).get("GroupName"):
        owner = ec2.group(rule.group_id)
        vpc_groups = ec2.backend.groups.get(owner.vpc_id, {}) if owner is not None else {}
        group = next((g.id for g in list(vpc_groups.values()) if g.name == rule.source_group["GroupName"]), None)
    if isinstance(peer, Hosts):
        return (cidr is not None and peer.block.subnet_of(cidr)) or (group is not None and group in peer.groups)
    if cidr is not None and cidr.prefixlen == 0:
        return True
    return peer.prefix_list is not None and rule.prefix_list_id == peer.prefix_list


def groups_admit(ec2: Ec2, place: Place, egress: bool, port: int, peer: Peer) -> None:
    """One of ``place``'s groups has a rule admitting TCP ``port`` with ``peer``."""
    for group_id in place.groups:
        group = ec2.group(group_id)
        rules = [] if group is None else list(group.egress_rules if egress else group.ingress_rules)
        if any(rule_admits(ec2, rule, port, peer) for rule in rules):
            return
    groups = ", ".join(place.groups) or "(none)"
    what = peer.rule_what if isinstance(peer, Outside) else peer.what
    missing = [g for g in place.groups if ec2.group(g) is None]
    gone = f" ({', '.join(missing)} does not exist)" if missing else ""
    if egress:
        raise Blocked(f"security group {groups} of {place.what} admits nothing outbound on TCP {port} to {what}{gone}")
    raise Blocked(f"security group {groups} of {place.what} admits nothing on TCP {port} from {what}{gone}")


# --------------------------------------------------------------------------- network ACLs
def entry_ports(entry: Any) -> tuple[int, int] | None:
    if str(entry.protocol) == "-1" or entry.port_range_from in (None, "") or entry.port_range_to in (None, ""):
        return None
    return int(entry.port_range_from), int(entry.port_range_to)


def is_egress(entry: Any) -> bool:
    return entry.egress is True or str(entry.egress).lower() == "true"


def acl_admits(ec2: Ec2, subnet: Any, egress: bool, ports: tuple[int, int], peer: Peer) -> None:
    """The subnet's network ACL lets TCP ``ports`` out to (``egress``) or in from ``peer``."""
    acl = ec2.acl(subnet)
    if acl is None:
        return
    direction = "outbound" if egress else "inbound"
    towards = "to" if egress else "from"

    def denied(rule: str) -> Blocked:
        return Blocked(f"network ACL {acl.id} of subnet {subnet.id} denies {ports_text(ports)} {direction} {towards} {peer.what} ({rule})")

    entries = [e for e in list(acl.network_acl_entries) if is_egress(e) == egress]
    for entry in sorted(entries, key=lambda e: int(e.rule_number)):
        if str(entry.protocol).lower() not in ("6", "tcp", "-1", "all"):
            continue
        block = parse_cidr(entry.cidr_block) if entry.cidr_block else None
        if block is None:
            continue  # an IPv6 entry
        span = entry_ports(entry)
        port_meets = span is None or (span[0] <= ports[1] and ports[0] <= span[1])
        port_holds = span is None or (span[0] <= ports[0] and ports[1] <= span[1])
        if isinstance(peer, Hosts):
            peer_meets, peer_holds = block.overlaps(peer.block), peer.block.subnet_of(block)
        else:
            peer_meets = peer_holds = block.prefixlen == 0
        if not (port_meets and peer_meets):
            continue
        if str(entry.rule_action).lower() != "allow":
            number = int(entry.rule_number)
            raise denied("rule *" if number >= LAST_RULE else f"rule {number}")
        if port_holds and peer_holds:
            return
        # An allow for part of the traffic: the rest is decided further down.
    raise denied("rule *")


# ---------------------------------------------------------------------------- the paths
def subnet_of(ec2: Ec2, place: Place, subnet_id: str) -> Any:
    subnet = ec2.subnet(subnet_id)
    if subnet is None:
        raise Blocked(f"subnet {subnet_id} of {place.what} does not exist in {ec2.region}")
    return subnet


def with_default_group(ec2: Ec2, place: Place) -> Place:
    """No groups: the VPC's default group (as MSK and an ENI made without groups use)."""
    if place.groups or not place.subnets:
        return place
    subnet = ec2.subnet(place.subnets[0])
    default = ec2.default_group(subnet.vpc_id) if subnet is not None else None
    if default is None:
        return place
    return Place(place.what, place.subnets, (default.id,), place.address, place.public_ip)


def hosts(place: Place, subnet: Any) -> Hosts:
    """``place`` in ``subnet`` as its peer sees it: its address, else the whole subnet."""
    block = parse_cidr(subnet.cidr_block)
    assert block is not None
    if place.address is not None and len(place.subnets) == 1:
        block = ipaddress.IPv4Network(f"{place.address}/32")
    return Hosts(place.what, block, frozenset(place.groups))


def in_vpc(ec2: Ec2, source: Place, target: Place, port: int) -> None:
    """Every subnet of ``source`` to every subnet of ``target`` on TCP ``port``."""
    source, target = with_default_group(ec2, source), with_default_group(ec2, target)
    for place in (source, target):
        if not place.subnets:
            raise Blocked(f"{place.what} is in no subnet")
    for source_id in source.subnets:
        for target_id in target.subnets:
            src, dst = subnet_of(ec2, source, source_id), subnet_of(ec2, target, target_id)
            if src.vpc_id != dst.vpc_id:
                raise Blocked(
                    f"subnet {src.id} of {source.what} is in {src.vpc_id}, subnet {dst.id} of {target.what} in {dst.vpc_id} "
                    "(peering and transit gateways are not followed)"
                )
            src_far, dst_far = hosts(source, src), hosts(target, dst)
            groups_admit(ec2, source, True, port, dst_far)
            groups_admit(ec2, target, False, port, src_far)
            if src.id != dst.id:  # network ACLs guard a subnet's edge
                acl_admits(ec2, src, True, (port, port), dst_far)
                acl_admits(ec2, dst, False, (port, port), src_far)
                acl_admits(ec2, dst, True, EPHEMERAL_LINUX, src_far)
                acl_admits(ec2, src, False, EPHEMERAL_LINUX, dst_far)


def outbound(ec2: Ec2, source: Place, port: int, s3: bool) -> None:
    """From every subnet of ``source`` out of the VPC on TCP ``port``: to S3, else the internet."""
    source = with_default_group(ec2, source)
    if not source.subnets:
        raise Blocked(f"{source.what} is in no subnet")
    if s3:
        prefix_list = ec2.s3_prefix_list()
        peer = Outside("S3 (0.0.0.0/0)", prefix_list.id if prefix_list is not None else None)
        destinations = prefix_list_entries(prefix_list) or [ALL_IPV4]
    else:
        peer, destinations = INTERNET, [ALL_IPV4]
    for subnet_id in source.subnets:
        subnet = subnet_of(ec2, source, subnet_id)
        carry(ec2, source, subnet, destinations, "S3" if s3 else "the internet", s3)
        groups_admit(ec2, source, True, port, peer)
        acl_admits(ec2, subnet, True, (port, port), peer)
        acl_admits(ec2, subnet, False, EPHEMERAL_LINUX, peer)


def from_internet(ec2: Ec2, target: Place, port: int) -> None:
    """From the internet (API Gateway has no fixed addresses) to ``target`` on TCP ``port``."""
    target = with_default_group(ec2, target)
    if not target.subnets:
        raise Blocked(f"{target.what} is in no subnet")
    for subnet_id in target.subnets:
        subnet = subnet_of(ec2, target, subnet_id)
        table, route = routes_to_internet_gateway(ec2, subnet)
        if route is None:
            name = table.id if table is not None else "(none)"
            raise Blocked(f"route table {name} of subnet {subnet.id} does not route 0.0.0.0/0 to an internet gateway, so API Gateway cannot reach {target.what}")
        if not target.public_ip:
            raise Blocked(f"{target.what} has no public address, so API Gateway cannot reach it")
        groups_admit(ec2, target, False, port, INTERNET)
        acl_admits(ec2, subnet, False, (port, port), INTERNET)
        acl_admits(ec2, subnet, True, EPHEMERAL_ANY, INTERNET)


def verdict(check: Any, *args: Any) -> str | None:
    try:
        check(*args)
    except Blocked as blocked:
        return str(blocked)
    return None


def as_instance(ec2: Ec2, instance: Any) -> Any:
    if not isinstance(instance, str):
        return instance
    for reservation in list(ec2.backend.reservations.values()):
        for candidate in list(reservation.instances):
            if candidate.id == instance:
                return candidate
    raise Blocked(f"instance {instance} does not exist in {ec2.region}")


def strings(items: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(s for s in (items or []) if s)


# ------------------------------------------------------------------------- the five paths
def client_to_brokers(account: str, region: str, instance: Any, broker_subnets: Iterable[str], broker_groups: Iterable[str], port: int = BROKER_PORT) -> str | None:
    """The Kafka client (an instance or its id) to every broker subnet on TCP ``port``."""
    ec2 = Ec2(account, region)
    try:
        client = ec2.instance_place(as_instance(ec2, instance))
    except Blocked as blocked:
        return str(blocked)
    brokers = Place("the brokers", strings(broker_subnets), strings(broker_groups))
    return verdict(in_vpc, ec2, client, brokers, port)


def connector_to_brokers(
    account: str, region: str, subnets: Iterable[str], groups: Iterable[str], broker_subnets: Iterable[str], broker_groups: Iterable[str], port: int = BROKER_PORT
) -> str | None:
    """MSK Connect workers (any address of each of ``subnets``) to every broker subnet."""
    ec2 = Ec2(account, region)
    connector = Place("the connector", strings(subnets), strings(groups))
    brokers = Place("the brokers", strings(broker_subnets), strings(broker_groups))
    return verdict(in_vpc, ec2, connector, brokers, port)


def connector_to_s3(account: str, region: str, subnets: Iterable[str], groups: Iterable[str]) -> str | None:
    """MSK Connect workers (private addresses only) to S3 in the Region on TCP 443."""
    ec2 = Ec2(account, region)
    return verdict(outbound, ec2, Place("the connector", strings(subnets), strings(groups)), HTTPS, True)


def internet_to_instance(account: str, region: str, instance: Any, port: int) -> str | None:
    """API Gateway (the internet) to the instance's public address on TCP ``port``."""
    ec2 = Ec2(account, region)
    try:
        client = ec2.instance_place(as_instance(ec2, instance))
    except Blocked as blocked:
        return str(blocked)
    return verdict(from_internet, ec2, client, port)


def instance_to_internet(account: str, region: str, instance: Any, port: int = HTTPS) -> str | None:
    """The instance to the internet on TCP ``port`` (the user-data's downloads)."""
    ec2 = Ec2(account, region)
    try:
        client = ec2.instance_place(as_instance(ec2, instance))
    except Blocked as blocked:
        return str(blocked)
    return verdict(outbound, ec2, client, port, False)
