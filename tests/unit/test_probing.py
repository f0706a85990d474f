"""How a cell becomes a netprobe probe."""

from netconform.exec import LocalExec
from netconform.matrix import ALLOWED, Cell, Endpoint, ExpectedMatrix
from netconform.probe_client import ProbeSite
from netconform.probing import MatrixProber
from netconform.spec import PortSpec

FE = Endpoint("prod/frontend", "workload", "frontend", "prod")
DNS = Endpoint("kube-dns", "service", "kube-dns")
DB = Endpoint("prod/db", "workload", "db", "prod")
SITES = {FE: ProbeSite(LocalExec(), ("python3", "netprobe.py"))}
ADDRESSES = {DNS: "198.19.128.10", DB: "fd00::7"}


def test_tcp_and_udp_cells_probe_the_destination_address() -> None:
    prober = MatrixProber(SITES, ADDRESSES, 1.0)
    assert prober.probe(Cell(FE, DB, PortSpec(5432, "TCP"))) == {
        "id": "prod/frontend -> prod/db 5432/TCP",
        "tcp": "[fd00::7]:5432",
        "timeout": 1.0,
    }
    assert prober.probe(Cell(FE, DNS, PortSpec(53, "UDP")))["udp"] == "198.19.128.10:53"


def test_a_real_dns_server_is_asked_a_real_question_on_53_udp() -> None:
    prober = MatrixProber(SITES, ADDRESSES, 1.0, dns_query="kubernetes.default.svc.cluster.local")
    probe = prober.probe(Cell(FE, DNS, PortSpec(53, "UDP")))
    assert probe["dns"] == "kubernetes.default.svc.cluster.local"
    assert probe["server"] == "198.19.128.10:53"
    assert prober.probe(Cell(FE, DNS, PortSpec(53, "TCP")))["tcp"] == "198.19.128.10:53"


def test_the_reproduce_line_runs_the_agent_at_the_source() -> None:
    line = MatrixProber(SITES, ADDRESSES, 1.0).reproduce(Cell(FE, DB, PortSpec(5432, "TCP")))
    assert line.startswith("python3 netprobe.py probe <<< '")
    assert '"tcp": "[fd00::7]:5432"' in line


def test_only_cells_with_a_site_at_their_source_are_probed() -> None:
    envoy = Endpoint("ingress", "entity", "ingress")
    cells = {
        Cell(FE, DB, PortSpec(5432, "TCP")): ALLOWED,
        Cell(envoy, DB, PortSpec(5432, "TCP")): ALLOWED,
    }
    probed = MatrixProber(SITES, ADDRESSES, 1.0).probed(ExpectedMatrix(cells))
    assert [str(c) for c in probed.cells] == [str(Cell(FE, DB, PortSpec(5432, "TCP")))]


def test_through_a_service_address_a_cell_has_no_placement_and_only_the_sources_given() -> None:
    client = Endpoint("laptop", "client", "laptop")
    sites = {**SITES, client: SITES[FE]}
    placed = {(FE, DB, "same-node"): "fd00::8", (FE, DB, "cross-node"): "fd00::9"}
    cells = {
        Cell(FE, DB, PortSpec(5432, "TCP")): ALLOWED,
        Cell(client, DB, PortSpec(5432, "TCP")): ALLOWED,
    }
    pods = MatrixProber(sites, ADDRESSES, 1.0, placed=placed)
    assert sorted(c.placement for c in pods.probed(ExpectedMatrix(cells)).cells) == [
        "",
        "cross-node",
        "same-node",
    ]
    vip = pods.through({DB: "198.19.96.20"}, sources={FE})
    [cell] = vip.probed(ExpectedMatrix(cells)).cells
    assert (cell.source, cell.placement) == (FE, "")
    assert vip.probe(cell)["tcp"] == "198.19.96.20:5432"
