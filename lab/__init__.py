"""The lab: network namespaces, veth pairs and a bridge with real daemons, where the suite's
network-facing code meets real packets without a cluster. Used by tests/lab and bench/, so
it lives beside them rather than inside tests/; the product never imports it."""
