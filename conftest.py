"""Root conftest: the repository root is importable for every test, and the suites' fixtures
(cluster, workloads, reachability) and options (--cluster, --kube-context, --keep-cluster,
--allow-cluster-changes, --spec, --probe-timeout, --external) are registered here."""

pytest_plugins = [
    "fixtures.cluster",
    "fixtures.policy",
    "fixtures.routing",
    "fixtures.dns",
    "fixtures.encryption",
    "fixtures.results",
]
