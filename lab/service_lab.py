"""A Service reached from outside, on real packets: three nodes on one switch, a pod behind
each of the first two, a client beside them that sends the LoadBalancer address through any
node. Each node translates its node port and that address in nftables as a kube-proxy
replacement would: with externalTrafficPolicy Local to its own pod only (a node
without one has nothing there), with Cluster to any pod, masquerading what it sends to
another node's. Mutations rewrite one node's rules."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from lab.topology import Host, Lab
from netconform.probe_client import HOST_NETPROBE_ARGV, ProbeSite

TABLE = "netconform_nodeport"
NODE_PORT = 30080
CLOSED_PORT = 30999
POD_PORT = 8080
CLIENT = "198.18.3.100"
BALANCER = "198.18.4.10"
NODES = {"node-a": "198.18.3.1", "node-b": "198.18.3.2", "node-c": "198.18.3.3"}
PODS = {"node-a": ("pod-a", "198.18.10.10"), "node-b": ("pod-b", "198.18.11.10")}


@dataclass
class ServiceLab:
    lab: Lab
    client: Host
    nodes: dict[str, Host]
    pods: dict[str, str]  # pod name -> address

    @property
    def site(self) -> ProbeSite:
        return ProbeSite(self.client.exec, HOST_NETPROBE_ARGV)

    @property
    def node_addresses(self) -> dict[str, str]:
        return {name: host.address for name, host in self.nodes.items()}

    @property
    def pods_by_node(self) -> dict[str, list[str]]:
        return {node: [pod] for node, (pod, _) in PODS.items()}

    def translate(self, node: str, ports: Mapping[int, list[str]], masquerade: bool) -> None:
        """Node `node` sends what arrives on each port (and on the LoadBalancer address) to one
        of its pods, picked at random per connection (none: nothing listens there),
        masquerading it if asked."""
        pre, chains = [], []
        for port, to in sorted(ports.items()):
            if not to:
                continue
            picks = ", ".join(f"{i} : jump to-{port}-{pod}" for i, pod in enumerate(to))
            # The LoadBalancer address goes where its node port goes, as Cilium's do.
            matched = [f"tcp dport {port}"]
            matched += [f"ip daddr {BALANCER} tcp dport {POD_PORT}"] if port == NODE_PORT else []
            pre += [f"{m} numgen random mod {len(to)} vmap {{ {picks} }}" for m in matched]
            chains += [
                f"  chain to-{port}-{pod} {{\n"
                f"    meta l4proto tcp dnat to {self.pods[pod]}:{POD_PORT}\n  }}"
                for pod in to
            ]
        post = f"ip daddr != {CLIENT} masquerade" if masquerade else ""
        body = "\n    ".join(pre)
        self.lab.nft(
            self.nodes[node],
            f"table ip {TABLE}\ndelete table ip {TABLE}\n"
            f"table ip {TABLE} {{\n"
            f"  chain pre {{\n    type nat hook prerouting priority -100;\n    {body}\n  }}\n"
            + "".join(f"{chain}\n" for chain in chains)
            + f"  chain post {{\n    type nat hook postrouting priority 100;\n"
            f"    {post}\n  }}\n"
            "}\n",
        )

    def balancer_through(self, node: str) -> None:
        """The client sends the LoadBalancer address through `node`, as a router would."""
        done = self.client.exec.run(
            ["ip", "route", "replace", f"{BALANCER}/32", "via", NODES[node]], timeout=10
        )
        if done.rc:
            raise RuntimeError(f"route to {BALANCER} via {node}: {done.stderr.strip()}")

    def local(self) -> None:
        """externalTrafficPolicy Local: each node to its own pod, the source kept."""
        for node in self.nodes:
            self.translate(node, {NODE_PORT: [PODS[node][0]] if node in PODS else []}, False)

    def cluster(self) -> None:
        """externalTrafficPolicy Cluster: any pod from every node, masqueraded."""
        for node in self.nodes:
            self.translate(node, {NODE_PORT: [pod for pod, _ in PODS.values()]}, True)


@contextmanager
def service_lab() -> Iterator[ServiceLab]:
    with Lab() as lab:
        others = {node: [p for n, (_, p) in PODS.items() if n != node] for node in NODES}
        nodes = {name: lab.host(name, address) for name, address in NODES.items()}
        for name, host in nodes.items():
            host.exec.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"], timeout=10)
            for pod_address in others[name]:
                owner = next(n for n, (_, p) in PODS.items() if p == pod_address)
                host.exec.run(
                    ["ip", "route", "add", f"{pod_address}/32", "via", NODES[owner]], timeout=10
                )
        client = lab.host("client", CLIENT)
        pods = {}
        for node, (pod, address) in PODS.items():
            host = lab.behind(nodes[node], pod, address)
            agent = lab.spawn(
                host,
                [
                    "env",
                    f"POD_NAME={pod}",
                    *HOST_NETPROBE_ARGV,
                    "serve",
                    "--bind",
                    "0.0.0.0",
                    "--tcp",
                    str(POD_PORT),
                ],
            )
            lab.wait_listening(host, [POD_PORT], agent)
            pods[pod] = address
        made = ServiceLab(lab, client, nodes, pods)
        yield made
