"""netprobe runs as a real subprocess here, exactly as it does inside pods and namespaces."""

from __future__ import annotations

import errno
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from netconform import netprobe
from tests.certs import make_certs

NETPROBE = str(Path(netprobe.__file__).resolve())
SERVING = re.compile(
    r"serving tcp=\[(?P<tcp>.*)\] udp=\[(?P<udp>.*)\] http=\[(?P<http>.*)\] https=\[(?P<https>.*)\]"
)


def run_probe(doc: Any) -> tuple[int, dict[str, Any]]:
    stdin = doc if isinstance(doc, str) else json.dumps(doc)
    proc = subprocess.run(
        [sys.executable, NETPROBE, "probe"], input=stdin, capture_output=True, text=True, timeout=30
    )
    assert proc.stderr == ""
    return proc.returncode, json.loads(proc.stdout)


def probe_one(probe: dict[str, Any]) -> dict[str, Any]:
    code, out = run_probe(probe)
    assert code == 0, out
    [result] = out["results"]
    return result


def free_ports(count: int, socktype: int = socket.SOCK_STREAM) -> list[int]:
    """Distinct ports that nothing listens on (bound together, so the kernel cannot repeat)."""
    socks = [socket.socket(socket.AF_INET, socktype) for _ in range(count)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


def free_port(socktype: int = socket.SOCK_STREAM) -> int:
    return free_ports(1, socktype)[0]


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr:
        proc.stderr.close()


Ports = dict[str, list[int]]


@pytest.fixture
def serve() -> Iterator[Callable[..., Ports]]:
    """Start `netprobe.py serve ARGS` with ports 0 and return the ports from its "serving" line."""
    procs: list[subprocess.Popen] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Ports:
        proc = subprocess.Popen(
            [sys.executable, NETPROBE, "serve", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        procs.append(proc)
        ready, _, _ = select.select([proc.stderr], [], [], 10)
        assert ready, "netprobe did not report serving within 10 s"
        line = proc.stderr.readline()
        match = SERVING.fullmatch(line.strip())
        assert match, f"unexpected first stderr line: {line!r}"
        return {
            proto: [int(p) for p in group.split(",") if p]
            for proto, group in match.groupdict().items()
        }

    yield start
    for proc in procs:
        stop(proc)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a server certificate for echo.test / 127.0.0.1 it signed, and an unrelated CA."""
    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not installed: apt-get install openssl")
    certs = make_certs(tmp_path_factory.mktemp("pki"), ["echo.test"], ["127.0.0.1"])
    other = make_certs(tmp_path_factory.mktemp("other-pki"), ["echo.test"])
    return {"ca": certs.ca, "other-ca": other.ca, "cert": certs.cert, "key": certs.key}


ZONE = {
    ("www.home.arpa.", dns.rdatatype.A): ["198.18.0.10", "198.18.0.11"],
    ("www.home.arpa.", dns.rdatatype.AAAA): ["fd00::10"],
}


def answer_dns(wire: bytes) -> bytes:
    """A tiny authoritative server: www.home.arpa, a CNAME to it, SERVFAIL and NXDOMAIN."""
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    question = query.question[0]
    name = question.name.to_text()
    if name == "alias.home.arpa.":
        response.answer.append(dns.rrset.from_text(name, 60, "IN", "CNAME", "www.home.arpa."))
        name = "www.home.arpa."
    if name == "fail.home.arpa.":
        response.set_rcode(dns.rcode.SERVFAIL)
    elif name != "www.home.arpa.":
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif (name, question.rdtype) in ZONE:
        values = ZONE[(name, question.rdtype)]
        response.answer.append(dns.rrset.from_text_list(name, 60, "IN", question.rdtype, values))
    return response.to_wire()


class DnsServer:
    def __init__(self) -> None:
        self.queries: list[tuple[str, dns.message.Message]] = []
        server = self

        class UDP(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                server.queries.append(("udp", dns.message.from_wire(data)))
                sock.sendto(answer_dns(data), self.client_address)

        class TCP(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                size = int.from_bytes(self.rfile.read(2), "big")
                data = self.rfile.read(size)
                server.queries.append(("tcp", dns.message.from_wire(data)))
                reply = answer_dns(data)
                self.wfile.write(len(reply).to_bytes(2, "big") + reply)

        self.servers = [
            socketserver.ThreadingUDPServer(("127.0.0.1", 0), UDP),
            socketserver.ThreadingTCPServer(("127.0.0.1", 0), TCP),
        ]
        self.udp = f"127.0.0.1:{self.servers[0].server_address[1]}"
        self.tcp = f"127.0.0.1:{self.servers[1].server_address[1]}"
        for srv in self.servers:
            threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    server = DnsServer()
    yield server
    server.close()


# --- pure functions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "verdict"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "refused"),
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "refused"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "unreachable"),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "unreachable"),
        (OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"), "unreachable"),
        (PermissionError(errno.EPERM, "Operation not permitted"), "unreachable"),
        (PermissionError(errno.EACCES, "Permission denied"), "unreachable"),
        (TimeoutError(errno.ETIMEDOUT, "Connection timed out"), "dropped"),
        (TimeoutError("timed out"), "dropped"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "unreachable"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "tls-error"),
        (ssl.SSLError(1, "wrong version number"), "tls-error"),
        (ValueError("not DNS"), "error"),
    ],
)
def test_classify_maps_errors_to_verdicts(exc: BaseException, verdict: str) -> None:
    assert netprobe.classify(exc)[0] == verdict


def test_classify_details_name_the_cause() -> None:
    assert netprobe.classify(OSError(errno.EHOSTUNREACH, "x"))[1].startswith("EHOSTUNREACH: ")
    resolution = netprobe.classify(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    assert resolution[1] == "name resolution failed: Name or service not known"
    assert netprobe.classify(TimeoutError("timed out")) == ("dropped", "timed out")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("198.18.1.2:8080", ("198.18.1.2", 8080)),
        ("[fd00::1]:8080", ("fd00::1", 8080)),
        ("echo.home.arpa:53", ("echo.home.arpa", 53)),
    ],
)
def test_split_hostport(target: str, expected: tuple[str, int]) -> None:
    assert netprobe.split_hostport(target) == expected


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("198.18.1.2:99999", "bad port '99999'"),
        ("198.18.1.2:0", "bad port '0'"),
        ("198.18.1.2:http", "bad port 'http'"),
        ("198.18.1.2", "no port"),
        ("fd00::1:8080", "[ipv6]:port"),
        ("[fd00::1", "[ipv6]:port"),
    ],
)
def test_split_hostport_rejects(target: str, message: str) -> None:
    with pytest.raises(netprobe.ProbeError, match=re.escape(message)):
        netprobe.split_hostport(target)


def test_split_hostport_default_port() -> None:
    assert netprobe.split_hostport("[fd00::53]", 53) == ("fd00::53", 53)
    assert netprobe.split_hostport("198.18.0.53", 53) == ("198.18.0.53", 53)
    assert netprobe.split_hostport("198.18.0.53:5353", 53) == ("198.18.0.53", 5353)


def test_format_addr_unmaps_ipv4_clients_of_dual_stack_sockets() -> None:
    assert netprobe.format_addr(("::ffff:10.0.0.7", 4000, 0, 0)) == "10.0.0.7:4000"
    assert netprobe.format_addr(("fd00::1", 80, 0, 0)) == "[fd00::1]:80"
    assert netprobe.format_addr(("10.0.0.7", 80)) == "10.0.0.7:80"


def test_encode_dns_query_is_understood_by_dnspython() -> None:
    wire = netprobe.encode_dns_query("www.home.arpa.", netprobe.QTYPES["AAAA"], 0xBEEF)
    message = dns.message.from_wire(wire)
    assert message.id == 0xBEEF
    assert message.flags & dns.flags.RD
    assert not message.flags & dns.flags.QR
    [question] = message.question
    assert question.name.to_text() == "www.home.arpa."
    assert question.rdtype == dns.rdatatype.AAAA


@pytest.mark.parametrize("name", ["a..b", ".a", "x" * 64 + ".arpa", "bücher.example", "a." * 128])
def test_encode_dns_name_rejects(name: str) -> None:
    with pytest.raises(netprobe.ProbeError, match="bad DNS name"):
        netprobe.encode_dns_name(name)


def test_encode_dns_name_root_and_trailing_dot() -> None:
    assert netprobe.encode_dns_name(".") == b"\x00"
    assert (
        netprobe.encode_dns_name("a.bc.") == netprobe.encode_dns_name("a.bc") == b"\x01a\x02bc\x00"
    )


def test_decode_dns_name_follows_compression_pointers() -> None:
    data = (
        bytes(12)
        + b"\x03www\x04home\x04arpa\x00"  # offset 12; "home" starts at 16
        + b"\x03api\xc0\x10"  # offset 27: api + pointer to 16
        + b"\xc0\x1b"  # offset 33: pointer to a name that itself ends in a pointer
    )
    assert netprobe.decode_dns_name(data, 12) == ("www.home.arpa", 27)
    assert netprobe.decode_dns_name(data, 27) == ("api.home.arpa", 33)
    assert netprobe.decode_dns_name(data, 33) == ("api.home.arpa", 35)


@pytest.mark.parametrize("data", [bytes(12) + b"\xc0\x0c", bytes(12) + b"\x01a\xc0\x20"])
def test_decode_dns_name_rejects_pointer_loops(data: bytes) -> None:
    with pytest.raises(ValueError, match="does not point backwards"):
        netprobe.decode_dns_name(data, 12)


def test_decode_dns_response_reads_a_compressed_dnspython_answer() -> None:
    query = netprobe.encode_dns_query("alias.home.arpa", netprobe.QTYPES["A"], 4242)
    wire = answer_dns(query)
    assert b"\xc0\x0c" in wire  # dnspython compresses owner names against the question
    reply = netprobe.decode_dns_response(wire)
    assert reply.qid == 4242
    assert reply.rcode == 0
    assert not reply.truncated
    assert [rtype for rtype, _ in reply.answers] == [5, 1, 1]
    assert sorted(rdata for rtype, rdata in reply.answers if rtype == 1) == [
        bytes([198, 18, 0, 10]),
        bytes([198, 18, 0, 11]),
    ]


def test_decode_dns_response_rcode_and_truncation() -> None:
    nxdomain = answer_dns(netprobe.encode_dns_query("nope.home.arpa", 1, 7))
    assert netprobe.decode_dns_response(nxdomain).rcode == 3
    full = answer_dns(netprobe.encode_dns_query("www.home.arpa", 1, 7))
    for cut in (5, 20, len(full) - 3):
        with pytest.raises(ValueError, match="truncated"):
            netprobe.decode_dns_response(full[:cut])


# --- probe input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("", "no JSON document"),
        ("{not json", "invalid JSON"),
        ("42", "expected a probe object"),
        ('{"icmp": "127.0.0.1"}', "unknown probe kind"),
        (
            '{"tcp": "127.0.0.1:1", "udp": "127.0.0.1:1"}',
            "exactly one of tcp, udp, http, dns, hold",
        ),
        ('{"tcp": "127.0.0.1:99999"}', "bad port '99999' in target '127.0.0.1:99999'"),
        ('{"tcp": "fd00::1:80"}', "[ipv6]:port"),
        ('{"tcp": ""}', "tcp target must be a non-empty string"),
        ('{"tcp": "127.0.0.1:80", "timout": 1}', "unknown key(s) for a tcp probe: timout"),
        ('{"tcp": "127.0.0.1:80", "timeout": -1}', "timeout must be a number"),
        ('{"udp": "127.0.0.1:53", "payload": 5}', "'payload' must be of type str"),
        ('{"http": "ftp://127.0.0.1/"}', "bad URL"),
        ('{"http": "http://127.0.0.1:70000/"}', "bad port in URL"),
        ('{"dns": "www.home.arpa"}', 'needs "server"'),
        ('{"dns": "a..b", "server": "127.0.0.1"}', "bad DNS name"),
        ('{"dns": "a.b", "server": "127.0.0.1", "type": "MX"}', '"type" must be one of A, AAAA'),
        ('{"probes": {}}', '"probes" must be a list'),
        ('{"probes": [], "timeout": 1, "extra": 1}', 'unknown key(s) next to "probes": extra'),
        ('[{"tcp": "127.0.0.1:80"}, 5]', "probe 1: expected an object"),
        ('[{"id": "x", "udp": "127.0.0.1"}]', 'probe 0 (id "x"): no port'),
        ('{"tcp": "127.0.0.1:80", "timeout": 1e-9}', "timeout must be a number of seconds in [0.1"),
        ('{"tcp": "127.0.0.1:\u0668\u0660"}', "bad port"),
        ('{"http": "https://127.0.0.1/", "ca": "/nonexistent/ca.pem"}', "'/nonexistent/ca.pem'"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_malformed_input_exits_2_naming_the_problem(stdin: str, message: str) -> None:
    code, out = run_probe(stdin)
    assert code == 2
    assert list(out) == ["error"]
    assert message in out["error"]


def test_empty_batch_is_fine() -> None:
    assert run_probe({"probes": []}) == (0, {"results": []})


# --- serve and probe end to end ----------------------------------------------------------------


def test_tcp_connected_and_identity(serve: Callable[..., Ports]) -> None:
    env = {"POD_NAME": "echo-7f9c", "POD_NAMESPACE": "team-a", "NODE_NAME": "node-2"}
    [port] = serve("--bind", "127.0.0.1", "--tcp", "0", env=env)["tcp"]
    result = probe_one({"id": "t1", "tcp": f"127.0.0.1:{port}", "read": True, "timeout": 2})
    assert result["id"] == "t1"
    assert result["kind"] == "tcp"
    assert result["target"] == f"127.0.0.1:{port}"
    assert result["verdict"] == "connected"
    assert isinstance(result["elapsed_ms"], float)
    assert 0 < result["elapsed_ms"] < 2000
    assert result["detail"] == f"connected to 127.0.0.1:{port}"
    response = result["response"]
    assert re.fullmatch(r"127\.0\.0\.1:\d+", response.pop("client"))
    assert response == {
        "pod": "echo-7f9c",
        "namespace": "team-a",
        "node": "node-2",
        "port": port,
        "proto": "tcp",
    }


def test_tcp_without_read_has_no_response(serve: Callable[..., Ports]) -> None:
    [port] = serve("--bind", "127.0.0.1", "--tcp", "0")["tcp"]
    result = probe_one({"tcp": f"127.0.0.1:{port}"})
    assert result["verdict"] == "connected"
    assert result["id"] is None
    assert "response" not in result


def test_tcp_server_echoes_after_identity(serve: Callable[..., Ports]) -> None:
    [port] = serve("--bind", "127.0.0.1", "--tcp", "0", env={"POD_NAME": "p"})["tcp"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        stream = sock.makefile("rb")
        assert json.loads(stream.readline())["pod"] == "p"
        sock.sendall(b"ping 1\n")
        assert stream.readline() == b"ping 1\n"
        sock.shutdown(socket.SHUT_WR)
        assert stream.read() == b""


def test_tcp_serves_several_ports_from_repeated_options(serve: Callable[..., Ports]) -> None:
    wanted = free_ports(3)
    args = ["--bind", "127.0.0.1", "--tcp", f"{wanted[0]},{wanted[1]}", "--tcp", str(wanted[-1])]
    ports = serve(*args)["tcp"]
    assert ports == wanted
    _, out = run_probe([{"tcp": f"127.0.0.1:{p}", "read": True} for p in ports])
    assert [r["response"]["port"] for r in out["results"]] == ports


def test_tcp_refused() -> None:
    result = probe_one({"tcp": f"127.0.0.1:{free_port()}"})
    assert result["verdict"] == "refused"
    assert result["detail"].startswith("ECONNREFUSED")


def test_unresolvable_name_is_unreachable() -> None:
    result = probe_one({"tcp": "no-such-host.invalid:80"})
    assert result["verdict"] == "unreachable"
    assert result["detail"].startswith("name resolution failed")


def test_udp_connected_echoes_payload(serve: Callable[..., Ports]) -> None:
    [port] = serve("--bind", "127.0.0.1", "--udp", "0", env={"POD_NAME": "udp-pod"})["udp"]
    result = probe_one({"udp": f"127.0.0.1:{port}", "payload": "hello ünïcode"})
    assert result["verdict"] == "connected"
    response = result["response"]
    assert response["pod"] == "udp-pod"
    assert response["proto"] == "udp"
    assert response["port"] == port
    assert response["payload"] == "hello ünïcode"
    assert response["client"].startswith("127.0.0.1:")


def test_udp_default_payload(serve: Callable[..., Ports]) -> None:
    [port] = serve("--bind", "127.0.0.1", "--udp", "0")["udp"]
    assert probe_one({"udp": f"127.0.0.1:{port}"})["response"]["payload"] == "netconform"


def test_udp_refused_by_icmp_port_unreachable() -> None:
    result = probe_one({"udp": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}", "timeout": 2})
    assert result["verdict"] == "refused"
    assert result["elapsed_ms"] < 1000


def test_a_datagram_that_came_by_the_deadline_counts_when_read_late() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
    ):
        server.bind(("127.0.0.1", 0))
        client.connect(server.getsockname())
        client.send(b"query")
        server.sendto(b"answer", server.recvfrom(100)[1])
        select.select([client], [], [], 5)
        past = time.monotonic() - 1
        assert netprobe.receive_by(client, past) == b"answer"
        with pytest.raises(TimeoutError):
            netprobe.receive_by(client, past)  # nothing more came: a drop


def test_http_reflects_host_path_and_headers(serve: Callable[..., Ports]) -> None:
    [port] = serve("--bind", "127.0.0.1", "--http", "0", env={"POD_NAME": "web"})["http"]
    result = probe_one(
        {
            "http": f"http://127.0.0.1:{port}/api/v1?x=1",
            "host": "echo.home.arpa",
            "headers": {"X-Netconform": "yes"},
        }
    )
    assert result["kind"] == "http"
    assert result["verdict"] == "http-200"
    assert result["detail"] == "200 OK"
    response = result["response"]
    assert response["pod"] == "web"
    assert response["host"] == "echo.home.arpa"
    assert response["path"] == "/api/v1?x=1"
    assert response["method"] == "GET"
    assert response["headers"]["X-Netconform"] == "yes"
    assert response["headers"]["Host"] == "echo.home.arpa"
    assert response["sni"] is None
    assert response["proto"] == "http"
    assert response["client"].startswith("127.0.0.1:")


def test_http_default_host_header(serve: Callable[..., Ports]) -> None:
    [port] = serve("--bind", "127.0.0.1", "--http", "0")["http"]
    response = probe_one({"http": f"http://127.0.0.1:{port}"})["response"]
    assert response["host"] == f"127.0.0.1:{port}"
    assert response["path"] == "/"


@pytest.mark.parametrize("status", [404, 503])
def test_http_status_path(serve: Callable[..., Ports], status: int) -> None:
    [port] = serve("--bind", "127.0.0.1", "--http", "0")["http"]
    result = probe_one({"http": f"http://127.0.0.1:{port}/status/{status}"})
    assert result["verdict"] == f"http-{status}"
    assert result["response"]["path"] == f"/status/{status}"


def test_http_any_method_answers(serve: Callable[..., Ports]) -> None:
    [port] = serve("--bind", "127.0.0.1", "--http", "0")["http"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("DELETE", "/status/202", body=b"payload")
    resp = conn.getresponse()
    assert resp.status == 202
    assert resp.getheader("Content-Type") == "application/json"
    assert json.loads(resp.read())["method"] == "DELETE"
    conn.close()


def test_http_connection_failure_maps_like_tcp() -> None:
    result = probe_one({"http": f"http://127.0.0.1:{free_port()}/"})
    assert result["verdict"] == "refused"


def test_http_non_json_body_is_previewed() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.0 418 I'm a teapot\r\nContent-Length: 5\r\n\r\nshort")

        threading.Thread(target=answer, daemon=True).start()
        result = probe_one({"http": f"http://127.0.0.1:{listener.getsockname()[1]}/"})
    assert result["verdict"] == "http-418"
    assert result["body"] == "short"
    assert "response" not in result


@pytest.fixture
def https_port(serve: Callable[..., Ports], pki: dict[str, Path]) -> int:
    args = ["--bind", "127.0.0.1", "--https", "0", "--cert", str(pki["cert"])]
    return serve(*args, "--key", str(pki["key"]))["https"][0]


def test_https_with_ca_file_reflects_sni(https_port: int, pki: dict[str, Path]) -> None:
    result = probe_one(
        {
            "http": f"https://127.0.0.1:{https_port}/tls",
            "ca": str(pki["ca"]),
            "sni": "echo.test",
            "host": "echo.test",
        }
    )
    assert result["verdict"] == "http-200"
    response = result["response"]
    assert response["sni"] == "echo.test"
    assert response["proto"] == "https"
    assert response["host"] == "echo.test"
    assert response["path"] == "/tls"


def test_https_with_ca_pem_and_ip_san(https_port: int, pki: dict[str, Path]) -> None:
    result = probe_one(
        {"http": f"https://127.0.0.1:{https_port}/", "ca_pem": pki["ca"].read_text()}
    )
    assert result["verdict"] == "http-200"
    assert result["response"]["sni"] is None  # clients send no SNI for IP literals


def test_https_wrong_ca_is_tls_error(https_port: int, pki: dict[str, Path]) -> None:
    result = probe_one(
        {"http": f"https://127.0.0.1:{https_port}/", "ca": str(pki["other-ca"]), "sni": "echo.test"}
    )
    assert result["verdict"] == "tls-error"
    assert "local issuer" in result["detail"]


def test_https_sni_mismatch_is_tls_error(https_port: int, pki: dict[str, Path]) -> None:
    result = probe_one(
        {"http": f"https://127.0.0.1:{https_port}/", "ca": str(pki["ca"]), "sni": "other.test"}
    )
    assert result["verdict"] == "tls-error"
    assert "mismatch" in result["detail"].lower()


def test_https_insecure_skips_verification(https_port: int, pki: dict[str, Path]) -> None:
    result = probe_one(
        {"http": f"https://127.0.0.1:{https_port}/", "insecure": True, "sni": "whatever.test"}
    )
    assert result["verdict"] == "http-200"
    assert result["response"]["sni"] == "whatever.test"


def test_https_hands_back_the_served_certificate(https_port: int, pki: dict[str, Path]) -> None:
    result = probe_one({"http": f"https://127.0.0.1:{https_port}/", "insecure": True})
    served = result["certificate"]
    assert served.startswith("-----BEGIN CERTIFICATE-----")
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(pki["cert"].read_text())


def test_http_method_and_redirect_location(serve: Callable[..., Ports]) -> None:
    [port] = serve("--bind", "127.0.0.1", "--http", "0")["http"]
    result = probe_one({"http": f"http://127.0.0.1:{port}/status/301", "method": "POST"})
    assert result["verdict"] == "http-301"
    assert result["response"]["method"] == "POST"
    assert "location" not in result  # netprobe sets none; a proxy's redirect would


def test_dns_a_answers(dns_server: DnsServer) -> None:
    result = probe_one({"id": "d", "dns": "www.home.arpa", "server": dns_server.udp})
    assert result["kind"] == "dns"
    assert result["verdict"] == "connected"
    assert result["rcode"] == "NOERROR"
    assert sorted(result["answers"]) == ["198.18.0.10", "198.18.0.11"]
    [(transport, query)] = dns_server.queries
    assert transport == "udp"
    assert query.flags & dns.flags.RD


def test_dns_aaaa_through_cname(dns_server: DnsServer) -> None:
    result = probe_one({"dns": "alias.home.arpa", "server": dns_server.udp, "type": "AAAA"})
    assert result["verdict"] == "connected"
    assert result["answers"] == ["fd00::10"]


def test_dns_nxdomain(dns_server: DnsServer) -> None:
    result = probe_one({"dns": "nope.home.arpa", "server": dns_server.udp})
    assert result["verdict"] == "dns-error:NXDOMAIN"
    assert result["rcode"] == "NXDOMAIN"
    assert result["answers"] == []


def test_dns_servfail(dns_server: DnsServer) -> None:
    assert probe_one({"dns": "fail.home.arpa", "server": dns_server.udp})["verdict"] == (
        "dns-error:SERVFAIL"
    )


def test_dns_over_tcp(dns_server: DnsServer) -> None:
    result = probe_one({"dns": "www.home.arpa", "server": dns_server.tcp, "tcp": True})
    assert result["verdict"] == "connected"
    assert sorted(result["answers"]) == ["198.18.0.10", "198.18.0.11"]
    assert [transport for transport, _ in dns_server.queries] == ["tcp"]


def test_dns_server_without_reply_is_dropped() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        server = f"127.0.0.1:{silent.getsockname()[1]}"
        result = probe_one({"dns": "www.home.arpa", "server": server, "timeout": 0.3})
    assert result["verdict"] == "dropped"
    assert 250 < result["elapsed_ms"] < 1000


def test_batch_of_drops_costs_one_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        target = f"127.0.0.1:{silent.getsockname()[1]}"
        probes = [{"id": i, "udp": target} for i in range(50)]
        start = time.monotonic()
        code, out = run_probe({"probes": probes, "timeout": 0.5})
        wall = time.monotonic() - start
    assert code == 0
    assert wall < 1.5
    results = out["results"]
    assert [r["id"] for r in results] == list(range(50))
    assert {r["verdict"] for r in results} == {"dropped"}
    assert all(450 <= r["elapsed_ms"] < 1400 for r in results)


def test_per_probe_timeout_overrides_batch_default() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        target = f"127.0.0.1:{silent.getsockname()[1]}"
        doc = {"probes": [{"udp": target}, {"udp": target, "timeout": 0.2}], "timeout": 0.6}
        _, out = run_probe(doc)
    slow, fast = (r["elapsed_ms"] for r in out["results"])
    assert 550 <= slow < 1200
    assert 150 <= fast < 500


def test_results_keep_input_order(serve: Callable[..., Ports]) -> None:
    ports = serve("--bind", "127.0.0.1", "--tcp", "0", "--udp", "0")
    closed = free_port()
    code, out = run_probe(
        [
            {"id": "a", "tcp": f"127.0.0.1:{closed}"},
            {"id": "b", "tcp": f"127.0.0.1:{ports['tcp'][0]}"},
            {"id": "c", "udp": f"127.0.0.1:{ports['udp'][0]}"},
        ]
    )
    assert code == 0
    assert [(r["id"], r["verdict"]) for r in out["results"]] == [
        ("a", "refused"),
        ("b", "connected"),
        ("c", "connected"),
    ]


def test_default_bind_is_dual_stack(serve: Callable[..., Ports]) -> None:
    ports = serve("--tcp", "0", "--udp", "0", "--http", "0")
    targets = ["127.0.0.1"] + (["[::1]"] if ipv6_loopback() else [])
    for host in targets:
        _, out = run_probe(
            [
                {"tcp": f"{host}:{ports['tcp'][0]}", "read": True},
                {"udp": f"{host}:{ports['udp'][0]}"},
                {"http": f"http://{host}:{ports['http'][0]}/"},
            ]
        )
        for result in out["results"]:
            assert result["verdict"] in ("connected", "http-200")
            assert result["response"]["client"].startswith(f"{host}:")


# --- serve lifecycle ---------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_exits_0_on_signal(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, NETPROBE, "serve", "--bind", "127.0.0.1", "--tcp", "0", "--udp", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr.readline().startswith("serving tcp=[")
        proc.send_signal(sig)
        assert proc.wait(5) == 0
        assert proc.stderr.read() == ""
    finally:
        stop(proc)


@pytest.mark.parametrize("socktype", [socket.SOCK_STREAM, socket.SOCK_DGRAM])
def test_serve_port_in_use_exits_2_naming_the_port(socktype: int) -> None:
    with socket.socket(socket.AF_INET, socktype) as taken:
        taken.bind(("127.0.0.1", 0))
        if socktype == socket.SOCK_STREAM:
            taken.listen()
        port = taken.getsockname()[1]
        proto = "--tcp" if socktype == socket.SOCK_STREAM else "--udp"
        proc = subprocess.run(
            [sys.executable, NETPROBE, "serve", "--bind", "127.0.0.1", proto, f"0,{port}"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert f"port {port}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serve_https_needs_readable_cert(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pem")
    args = ["serve", "--https", "0", "--cert", missing, "--key", missing]
    proc = subprocess.run(
        [sys.executable, NETPROBE, *args], capture_output=True, text=True, timeout=10
    )
    assert proc.returncode == 2
    assert "--cert" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bogus"], "invalid choice: 'bogus'"),
        ([], "required"),
        (["serve"], "at least one of --tcp"),
        (["serve", "--tcp", "80,70000"], "bad port '70000'"),
        (["serve", "--https", "443"], "--https needs --cert and --key"),
        (["serve", "--bind", "nowhere", "--tcp", "80"], "not an IP address"),
    ],
)
def test_cli_usage_errors_exit_2(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, NETPROBE, *args], capture_output=True, text=True, timeout=10
    )
    assert proc.returncode == 2
    assert message in proc.stderr


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["probe", "--help"]])
def test_help(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, NETPROBE, *args], capture_output=True, text=True, timeout=10
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: netprobe.py")


def test_serve_refuses_ports_in_other_scripts_digits() -> None:
    done = subprocess.run(
        [sys.executable, NETPROBE, "serve", "--tcp", "\u0668\u0660"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "bad port" in done.stderr


def test_name_resolution_is_bounded_by_the_probe_timeout(monkeypatch) -> None:
    def slow_lookup(*args: Any) -> list:
        time.sleep(3)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("198.18.0.1", 80))]

    monkeypatch.setattr(netprobe.socket, "getaddrinfo", slow_lookup)
    probe = netprobe.parse_probe({"tcp": "slow.example:80", "timeout": 0.3}, 0, 1.0)
    start = time.monotonic()
    [result] = netprobe.run_batch([probe])
    assert time.monotonic() - start < 1.5
    assert result["verdict"] == "unreachable" and "timed out" in result["detail"]


def _ipv4_udp(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))  # fmt: skip
    return header + udp


def _ethernet(packet: bytes, ethertype: int = 0x0800) -> bytes:
    return b"\x02" * 6 + b"\x04" * 6 + struct.pack(">H", ethertype) + packet


def test_capture_judges_vxlan_by_the_packet_inside_and_skips_neighbour_discovery() -> None:
    inner = _ethernet(_ipv4_udp("198.18.64.5", "198.18.65.7", 40000, 8080, b"marker"))
    outer = _ethernet(
        _ipv4_udp("198.18.192.2", "198.18.192.3", 51000, 8472, b"\x08" + b"\0" * 7 + inner)
    )
    packet = netprobe.parse_frame(outer, netprobe.ARPHRD_ETHER)
    assert packet is not None and (packet.dst, packet.dport) == ("198.18.192.3", 8472)
    found = netprobe.inner_of(packet)
    assert found is not None and (found.src, found.dst, found.dport) == (
        "198.18.64.5",
        "198.18.65.7",
        8080,
    )
    keep = netprobe.capture_filter({"hosts": ["198.18.65.7"], "proto": "udp", "port": 8080})
    assert keep(found) and not keep(packet)
    tunnel_packet = netprobe.parse_frame(_ipv4_udp("198.18.41.2", "198.18.42.2", 1, 2, b""), 0xFFFE)
    assert tunnel_packet is not None and tunnel_packet.src == "198.18.41.2"
    solicitation = bytes([0x60, 0, 0, 0, 0, 8, 58, 255]) + bytes(32) + bytes([135]) + bytes(7)
    assert (
        netprobe.parse_frame(_ethernet(solicitation, 0x86DD), netprobe.ARPHRD_ETHER).proto == "nd"
    )


def test_hold_keeps_one_connection_echoing_until_its_timeout(serve: Callable[..., Ports]) -> None:
    [port] = serve("--bind", "127.0.0.1", "--tcp", "0")["tcp"]
    result = probe_one({"hold": f"127.0.0.1:{port}", "every_ms": 100, "timeout": 1.5})
    assert result["verdict"] == "connected", result
    assert 1.3 <= result["held_s"] <= 1.6
    assert 10 <= result["echoes"] <= 15
    assert 0 < result["longest_wait_ms"] < 100


def test_hold_names_a_connection_the_server_ends_and_when() -> None:
    """A server that echoes three lines and then resets the connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def echo_three() -> None:
            conn, _ = listener.accept()
            with conn, conn.makefile("rb") as lines:
                conn.sendall(b'{"pod": "p"}\n')
                for _ in range(3):
                    conn.sendall(lines.readline())
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        server = threading.Thread(target=echo_three, daemon=True)
        server.start()
        port = listener.getsockname()[1]
        result = probe_one({"hold": f"127.0.0.1:{port}", "every_ms": 100, "timeout": 5})
        server.join(5)
    assert result["verdict"] == "refused", result
    assert result["echoes"] == 3
    assert 0.2 <= result["held_s"] < 1.0
