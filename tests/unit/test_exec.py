"""Transports: bytes in and out, timeouts as errors, and a command line a person can paste."""

from __future__ import annotations

import pytest

from netconform.exec import DockerExec, ExecTimeout, LocalExec, NetnsExec


def test_local_run_returns_exit_code_and_both_streams() -> None:
    done = LocalExec().run(["sh", "-c", "cat; echo oops >&2; exit 3"], stdin="in")
    assert (done.rc, done.stdout, done.stderr) == (3, "in", "oops\n")


def test_a_missing_program_is_exit_127_not_an_exception() -> None:
    done = LocalExec().run(["netconform-no-such-program"])
    assert done.rc == 127 and "No such file" in done.stderr


def test_a_command_past_its_timeout_raises() -> None:
    with pytest.raises(ExecTimeout, match=r"still running after 0\.2s"):
        LocalExec().run(["sleep", "5"], timeout=0.2)


@pytest.mark.parametrize(
    ("transport", "line"),
    [
        (NetnsExec("nclab-1-x-db"), "ip netns exec nclab-1-x-db vtysh -c 'show bgp summary json'"),
        (
            DockerExec("netconform-frr"),
            "docker exec -i netconform-frr vtysh -c 'show bgp summary json'",
        ),
    ],
)
def test_command_lines_can_be_pasted(transport, line: str) -> None:
    assert transport.command_line(["vtysh", "-c", "show bgp summary json"]) == line
    assert transport.command_line(["cat"], "a b").endswith("cat <<< 'a b'")
