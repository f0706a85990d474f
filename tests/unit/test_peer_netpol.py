"""The upstream NetworkPolicy e2e run's glue: the image its tests ask for, and what their
report says (ginkgo's JUnit and STEP lines, as v2.28 writes them)."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from netconform.offline.peer_netpol import (
    PeerError,
    Round,
    SpecResult,
    agnhost_image,
    first_round,
    main,
    results,
    summary,
    unexplained,
)

MANIFEST = """
func initReg() RegistryList {
	registry := RegistryList{
		GcAuthenticatedRegistry: "gcr.io/authenticated-image-pulling",
		PromoterE2eRegistry:     "example.test/e2e-test-images",
	}
}
	configs[AgnhostPrev] = Config{list.PromoterE2eRegistry, "agnhost", "2.55"}
	configs[Agnhost] = Config{list.PromoterE2eRegistry, "agnhost", "2.63.0"}
	configs[AgnhostPrivate] = Config{list.PrivateRegistry, "agnhost", "2.6"}
"""

EXEC = (
    "  I1204 05:41:{s}.000000    4385 exec_util.go:67] ExecWithOptions {{Command:[/agnhost "
    "connect 198.19.0.{to}:80 --timeout=3s --protocol=tcp] Namespace:x PodName:{pod} "
    "ContainerName: Stdin:<nil>}}"
)
OUTPUT = "\n".join(
    [
        "  STEP: Creating a network policy x/allow-all @ 12/04/26 05:41:02.118",
        "STEP: Validating reachability matrix... (FIRST TRY) - k8s.io/kubernetes@v1.36.1/test/"
        "e2e/network/netpol/test_helper.go:116 @ 12/04/26 05:41:02.5",
        EXEC.format(s="03", to=1, pod="a"),
        EXEC.format(s="04", to=2, pod="a"),
        EXEC.format(s="08", to=2, pod="a"),
        "  I1204 05:41:59.250000    4385 test_helper.go:134] VALIDATION SUCCESSFUL",
        EXEC.format(s="59", to=3, pod="b"),
        "  STEP: Cleaning up the policy. @ 12/04/26 05:42:10",
    ]
)


def _manifest(tmp_path: Path, text: str) -> Path:
    target = tmp_path / "test/utils/image/manifest.go"
    target.parent.mkdir(parents=True)
    target.write_text(text)
    return tmp_path


def test_the_agnhost_image_is_the_one_the_pinned_release_names(tmp_path: Path) -> None:
    assert (
        agnhost_image(_manifest(tmp_path, MANIFEST))
        == "example.test/e2e-test-images/agnhost:2.63.0"
    )


def test_a_manifest_without_agnhost_is_refused_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(PeerError, match=r"manifest\.go"):
        agnhost_image(_manifest(tmp_path, MANIFEST.replace("configs[Agnhost]", "configs[Other]")))


def test_the_first_matrix_round_runs_from_its_step_to_its_verdict() -> None:
    assert first_round(OUTPUT) == Round(56.8, cells=2, execs=3)
    assert first_round(OUTPUT.replace("(FIRST TRY)", "")) is None


def test_without_a_verdict_the_round_ends_at_the_next_step() -> None:
    assert first_round(OUTPUT.replace("VALIDATION SUCCESSFUL", "more")) == Round(67.5, 3, 4)


def test_the_report_keeps_specs_with_state_time_and_first_failure_line(tmp_path: Path) -> None:
    junit = tmp_path / "r.xml"
    junit.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="netpol" tests="4">
  <testcase name="[BeforeSuite]" status="passed" time="0.1"></testcase>
  <testcase name="[It] [sig-network] Netpol should deny" status="passed" time="61.5">
    <system-err>{escape(OUTPUT)}</system-err></testcase>
  <testcase name="[It] [sig-network] Netpol should allow" status="failed" time="90">
    <failure message="Expected allowed pod connection was instead BLOCKED&#10;more" type="failed"/>
  </testcase>
  <testcase name="[It] [sig-network] Netpol SCTP" status="skipped" time="0"></testcase>
</testsuite></testsuites>""")
    specs = results(junit)
    assert specs == [
        SpecResult("[sig-network] Netpol should deny", "passed", 61.5, Round(56.8, 2, 3), ""),
        SpecResult(
            "[sig-network] Netpol should allow",
            "failed",
            90.0,
            None,
            "Expected allowed pod connection was instead BLOCKED",
        ),
        SpecResult("[sig-network] Netpol SCTP", "skipped", 0.0, None, ""),
    ]
    text = summary(specs, 152.0)
    assert text.splitlines()[0] == (
        "upstream NetworkPolicy e2e: 1 passed, 1 failed, 1 skipped in 152 s"
    )
    assert "1, median 56.8 s for 2 cells (3 execs), 28.40 s a cell" in text
    assert "FAILED [sig-network] Netpol should allow: Expected allowed" in text
    assert "UNEXPLAINED" in text
    assert unexplained(specs) == [specs[1]]


def test_a_failure_that_is_ciliums_documented_difference_is_explained() -> None:
    ipblock = SpecResult("Netpol should enforce except clause in CIDR block", "failed", 1, None, "")
    assert "cilium/cilium#9209" in summary([ipblock], 1)
    assert unexplained([ipblock]) == []


def test_summarize_reads_the_last_report_again_and_says_when_there_is_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--summarize", "--reports", str(tmp_path)]) == 2
    assert "no report at" in capsys.readouterr().err
    (tmp_path / "peer-netpol.xml").write_text(
        '<testsuites><testsuite><testcase name="[It] Netpol a" status="passed" time="2">'
        "</testcase></testsuite></testsuites>"
    )
    assert main(["--summarize", "--reports", str(tmp_path)]) == 0
    assert "1 passed, 0 failed, 0 skipped" in capsys.readouterr().out
    assert (tmp_path / "peer-netpol.json").is_file()
