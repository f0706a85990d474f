"""The Hubble evidence lines attached to a wrong cell."""

import json

from netconform.hubble import MAX_FLOWS, drop_reasons, observe_argv, summarize


def test_observe_asks_for_exactly_that_pair_and_port() -> None:
    argv = observe_argv(
        "198.19.128.5:80", "netconform-ab12-prod", "frontend-7d9c", "10.244.1.7", 5432
    )
    assert argv[:2] == ["hubble", "observe"]
    assert argv[argv.index("--server") + 1] == "198.19.128.5:80"
    assert argv[argv.index("--from-pod") + 1] == "netconform-ab12-prod/frontend-7d9c"
    assert argv[argv.index("--to-ip") + 1] == "10.244.1.7"
    assert argv[argv.index("--to-port") + 1] == "5432"


def test_summary_keeps_the_newest_flows_with_their_verdicts() -> None:
    flow = "Nov 27 02:0{i}:00: prod/frontend:4{i}000 -> prod/db:5432 {what} (TCP Flags: SYN)"
    output = "\n".join(
        flow.format(i=i, what=what)
        for i in range(4)
        for what in ("policy-verdict:none INGRESS DENIED", "Policy denied DROPPED")
    )
    lines = summarize(output)
    assert len(lines) == MAX_FLOWS and all(line.startswith("hubble: ") for line in lines)
    assert lines[-1].endswith("Policy denied DROPPED (TCP Flags: SYN)")


def test_no_flow_is_said_as_such() -> None:
    assert summarize("\n\n") == ["hubble: no flow for this pair in the relay's buffers"]


def test_drop_reasons_are_read_from_the_json_flows() -> None:
    def flow(verdict: str, reason: str = "") -> str:
        body = {"verdict": verdict, **({"drop_reason_desc": reason} if reason else {})}
        return json.dumps({"flow": body, "node_name": "kind-worker"})

    output = "\n".join(
        [
            flow("FORWARDED"),
            flow("DROPPED", "AUTH_REQUIRED"),
            "not json",
            flow("DROPPED", "POLICY_DENIED"),
        ]
    )
    assert drop_reasons(output) == ["AUTH_REQUIRED", "POLICY_DENIED"]
    assert drop_reasons("") == []
