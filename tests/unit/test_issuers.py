"""ACME issuers replaced by CA issuers of the same kind and name, and nothing else touched."""

from __future__ import annotations

import copy

from netconform.sources.issuers import without_acme

ACME = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "ClusterIssuer",
    "metadata": {"name": "letsencrypt"},
    "spec": {
        "acme": {
            "server": "https://acme.invalid/directory",
            "privateKeySecretRef": {"name": "account"},
            "solvers": [{"dns01": {"cloudflare": {}}}, {"http01": {"gatewayHTTPRoute": {}}}],
        }
    },
}
CA = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Issuer",
    "metadata": {"name": "internal", "namespace": "gateway"},
    "spec": {"ca": {"secretName": "home-ca"}},
}
CERTIFICATE = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Certificate",
    "metadata": {"name": "web", "namespace": "gateway"},
    "spec": {"issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"}, "acme": "kept"},
}


def test_an_acme_cluster_issuer_signs_with_the_run_ca_under_its_own_name() -> None:
    given = [ACME, CA, CERTIFICATE]
    before = copy.deepcopy(given)
    out, replaced = without_acme(given, "run-ca")
    assert given == before
    assert out[0]["kind"] == "ClusterIssuer"
    assert out[0]["metadata"] == {"name": "letsencrypt"}
    assert out[0]["spec"] == {"ca": {"secretName": "run-ca"}}
    assert out[1:] == [CA, CERTIFICATE]
    [one] = replaced
    assert (one.kind, one.name, one.challenge, one.secret_namespace) == (
        "ClusterIssuer",
        "letsencrypt",
        "dns01, http01",
        "cert-manager",
    )
    assert "ClusterIssuer letsencrypt: ACME (dns01, http01) replaced" in str(one)


def test_a_namespaced_acme_issuer_needs_the_ca_in_its_namespace() -> None:
    issuer = {**ACME, "kind": "Issuer", "metadata": {"name": "le", "namespace": "web"}}
    _, [one] = without_acme([issuer], "run-ca")
    assert one.secret_namespace == "web"


def test_documents_that_are_not_issuers_or_are_malformed_pass_unchanged() -> None:
    odd = [{"kind": "ClusterIssuer", "spec": "acme"}, {"kind": "Issuer"}, {"spec": {"acme": {}}}]
    out, replaced = without_acme(odd, "run-ca")
    assert (out, replaced) == (odd, [])
