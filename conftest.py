"""Root conftest: makes the repository root importable (`tests.lab`, `netconform`) for every test.

Cluster options (--cluster, --kube-context, --keep-cluster) arrive with the
cluster fixtures.
"""
