"""The split-DNS checker and renderers on answers and logs shaped as CoreDNS gives them."""

from __future__ import annotations

from pathlib import Path

import pytest

from netconform import dns_config as render
from netconform.checks.dns import (
    INSIDE,
    OUTSIDE,
    Answer,
    Question,
    answer_of,
    check_answers,
    check_paths,
    expected_answers,
)
from netconform.spec import load

ROOT = Path(__file__).resolve().parents[2]
DNS = load(ROOT / "architecture.yaml").dns
NAS_INSIDE = Question("nas.home.arpa", "A", INSIDE)


def test_expected_answers_follow_zones_and_vantage_points() -> None:
    expected = expected_answers(DNS)
    assert expected[NAS_INSIDE] == Answer("NOERROR", frozenset({"198.18.100.10"}))
    assert expected[Question("nas.home.arpa", "A", OUTSIDE)].addresses == {"198.18.101.10"}
    assert expected[Question("printer.home.arpa", "A", OUTSIDE)] == Answer("NXDOMAIN")
    # No internal zone's name: the cluster resolves it through the upstream.
    assert expected[Question("www.example", "A", INSIDE)].addresses == {"198.18.102.10"}


def test_a_wrong_answer_is_named_with_what_came_and_what_should_have() -> None:
    expected = expected_answers(DNS)
    observed = {**expected, NAS_INSIDE: Answer("SERVFAIL")}
    verdict = check_answers(expected, observed, {"nas.home.arpa": "home.arpa"})
    assert not verdict.ok
    assert "nas.home.arpa A from inside: got SERVFAIL, want 198.18.100.10" in verdict.summary
    assert "(logged by home.arpa)" in verdict.evidence
    assert check_answers(expected, expected).ok


@pytest.mark.parametrize(
    ("result", "rcode"),
    [
        ({"verdict": "dns-error:NXDOMAIN", "rcode": "NXDOMAIN", "answers": []}, "NXDOMAIN"),
        ({"verdict": "dns-error:REFUSED", "rcode": "REFUSED", "answers": []}, "REFUSED"),
        ({"verdict": "dropped", "detail": "timed out"}, "TIMEOUT"),
        ({"verdict": "refused", "detail": "connection refused"}, "PORT-UNREACHABLE"),
    ],
)
def test_a_refused_port_never_reads_as_a_refused_query(result: dict, rcode: str) -> None:
    assert answer_of(result).rcode == rcode


def test_a_leak_and_a_query_that_never_arrived_are_named() -> None:
    must = {"a.home.arpa": "home.arpa", "b.home.arpa": "home.arpa", "c.example": "upstream"}
    logs = {"home.arpa": ["a.home.arpa"], "upstream": ["b.home.arpa", "c.example"]}
    verdict = check_paths(must, logs, ["home.arpa", "upstream"])
    assert not verdict.ok
    assert "b.home.arpa never reached home.arpa" in verdict.summary
    assert "b.home.arpa leaked to upstream" in verdict.summary
    assert "a.home.arpa: logged by home.arpa (must be home.arpa only)" in verdict.evidence


def test_the_cluster_corefile_forwards_each_zone_and_the_rest_upstream() -> None:
    kubeadm = (
        ".:53 {\n    errors\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n"
        "    }\n}\n"
    )
    corefile = render.cluster_corefile(
        kubeadm, DNS, {"home.arpa": ["198.18.192.9"]}, ["198.18.192.10"]
    )
    assert "    forward . 198.18.192.10 {\n       max_concurrent 1000" in corefile
    assert "home.arpa:53 {\n    errors\n    cache 5\n    forward . 198.18.192.9\n}" in corefile
    with pytest.raises(ValueError, match=r"no `forward \.` line"):
        render.cluster_corefile(".:53 {\n    errors\n}\n", DNS, {}, ["198.18.192.10"])


def test_query_log_lines_give_the_names_asked() -> None:
    log = (
        '[INFO] 198.18.53.2:40123 - 4321 "A IN nas.home.arpa. udp 42 false 512" NOERROR\n'
        '[INFO] 198.18.53.2:40124 - 4322 "AAAA IN www.example. tcp 42 false 65535" NXDOMAIN\n'
    )
    assert render.logged_names(log) == {"nas.home.arpa", "www.example"}
