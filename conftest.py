"""Root conftest: the repository root is importable for every test, and the suites' fixtures
(cluster, workloads, reachability) and options (--cluster, --kube-context, --keep-cluster,
--allow-cluster-changes, --spec, --probe-timeout, --external, --test,
--keep-cluster-on-failure, --no-bundle) are registered here."""

# Modules that others import come first, so each is registered before it is imported.
pytest_plugins = [
    "fixtures.policy",
    "fixtures.results",
    "fixtures.on_failure",
    "fixtures.cluster",
    "fixtures.routing",
    "fixtures.dns",
    "fixtures.dns_redundancy",
    "fixtures.encryption",
    "fixtures.mutual_auth",
    "fixtures.gateway",
    "pytester",
]
