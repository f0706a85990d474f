"""The split-DNS suite bites on the real cluster: CoreDNS forwarding the internal zone to the
external resolver fails, naming the names that answer wrong inside and the leak.

Runs on the suites' own cluster and DNS fixtures:
`pytest tests/localcluster/test_dns_mutations.py --images=local`.
"""

from __future__ import annotations

from netconform.fixtures.split_dns import SplitDns

from netconform.cluster_dns import ClusterDns
from netconform.dns_config import cluster_corefile
from netconform.dns_servers import UPSTREAM


def test_a_zone_forwarded_to_the_external_resolver_is_named(split_dns: SplitDns) -> None:
    coredns = ClusterDns(split_dns.run.kube)
    healthy = coredns.corefile()
    upstream = [split_dns.servers.addresses[UPSTREAM]]
    misrouted = {zone.name: upstream for zone in split_dns.dns.zones}
    broken = cluster_corefile(split_dns.original_corefile, split_dns.dns, misrouted, upstream)
    coredns.replace(broken, split_dns.timeouts.dns)
    try:
        answers = split_dns.answers()
        assert not answers.ok
        assert "nas.home.arpa A from inside: got 198.18.101.10, want 198.18.100.10" in (
            answers.summary
        ), answers
        paths = split_dns.paths()
        assert not paths.ok and f"leaked to {UPSTREAM}" in paths.summary, paths
    finally:
        coredns.replace(healthy, split_dns.timeouts.dns)
    assert split_dns.until(split_dns.answers).ok
