#!/usr/bin/env python3
"""Echo server and prober that netconform copies into pods, containers and network namespaces.

It is a single stdlib-only file so that a stock ``python`` image (3.9 or later) can run it
without installing anything. Results travel as JSON on stdout, never as exit codes, so that
a failed probe is data for the suite rather than an error of netprobe.
"""

from __future__ import annotations

import argparse
import collections
import errno
import heapq
import http.client
import ipaddress
import itertools
import json
import os
import random
import re
import resource
import selectors
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, NamedTuple
from urllib.parse import urlsplit

DEFAULT_TIMEOUT = 1.0
MIN_TIMEOUT = 0.1
# Probes other than plain TCP run in threads; TCP connects all run at once on one selector.
MAX_THREADS = 512
# Sockets kept for stdio, the thread pool and the interpreter when sizing a batch to RLIMIT_NOFILE.
RESERVED_FDS = 64
# Connections waiting to be accepted: socketserver's default of 5 overflows under a batch of
# probes, and an overflowed SYN looks exactly like a policy drop.
LISTEN_BACKLOG = 4096
MAX_BODY = 1 << 20
BODY_PREVIEW = 2000
KINDS = ("tcp", "udp", "http", "dns", "hold")
PROTOS = ("tcp", "udp", "http", "https")
OPTIONS: dict[str, dict[str, type]] = {
    "tcp": {"read": bool},
    "udp": {"payload": str},
    "http": {
        "host": str,
        "sni": str,
        "ca": str,
        "ca_pem": str,
        "insecure": bool,
        "headers": dict,
        "method": str,
    },
    "dns": {"server": str, "type": str, "tcp": bool},
    "hold": {"every_ms": int},
}
QTYPES = {"A": 1, "AAAA": 28}
RCODES = ("NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED")
VERDICT_BY_ERRNO = {
    **dict.fromkeys((errno.ECONNREFUSED, errno.ECONNRESET, errno.EPIPE), "refused"),
    errno.ETIMEDOUT: "dropped",
    **dict.fromkeys((errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN), "unreachable"),
    **dict.fromkeys((errno.EHOSTDOWN, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT), "unreachable"),
    **dict.fromkeys((errno.EPERM, errno.EACCES), "unreachable"),  # local firewall reject
}


class ProbeError(ValueError):
    """Malformed probe input: the caller's bug, reported instead of a verdict."""


def classify(exc: BaseException) -> tuple[str, str]:
    """Map any probe failure to (verdict, detail), the same way for every probe kind."""
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None)
        return "tls-error", reason or str(exc)
    if isinstance(exc, socket.gaierror):
        return "unreachable", f"name resolution failed: {exc.strerror}"
    # Python 3.9: socket.timeout is not yet TimeoutError.
    if isinstance(exc, (socket.timeout, TimeoutError)) and exc.errno is None:
        return "dropped", "timed out"
    code = getattr(exc, "errno", None)
    name = errno.errorcode.get(code, "") if isinstance(code, int) else ""
    detail = f"{name}: {os.strerror(code)}" if name else f"{type(exc).__name__}: {exc}"[:200]
    return VERDICT_BY_ERRNO.get(code, "error"), detail


def format_addr(addr: tuple) -> str:
    """Render a socket address as ip:port, unmapping IPv4 clients of a dual-stack socket."""
    host = addr[0]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return f"[{host}]:{addr[1]}" if ":" in host else f"{host}:{addr[1]}"


def is_port_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also takes other scripts' digits, which int() reads."""
    return re.fullmatch(r"[0-9]+", text) is not None


def resolve(host: str, port: int, socktype: int, deadline: float) -> tuple:
    """getaddrinfo bounded by the probe's deadline (a resolver that drops queries would hold
    it for its own timeout); an address needs no lookup at all."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return socket.getaddrinfo(host, port, 0, socktype, 0, socket.AI_NUMERICHOST)[0]
    found: list[Any] = []

    def lookup() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, 0, socktype)[0])
        except Exception as exc:
            found.append(exc)

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if not found:
        raise socket.gaierror(socket.EAI_AGAIN, "name resolution timed out")
    if isinstance(found[0], BaseException):
        raise found[0]
    return found[0]


def split_hostport(target: str, default_port: int | None = None) -> tuple[str, int]:
    """Split host:port or [ipv6]:port; the port may be left out only where it has a default."""
    match = re.fullmatch(r"\[([^\]]+)\](?::([^:]*))?|([^:\[\]]+)(?::([^:]*))?", target)
    if not match:
        raise ProbeError(f"bad target {target!r}: expected host:port or [ipv6]:port")
    host, port = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
    if port is None:
        if default_port is None:
            raise ProbeError(f"no port in target {target!r}")
        return host, default_port
    if not is_port_number(port) or not 0 < int(port) < 65536:
        raise ProbeError(f"bad port {port!r} in target {target!r}")
    return host, int(port)


# --- DNS wire format -------------------------------------------------------------------------


class DnsReply(NamedTuple):
    qid: int
    rcode: int
    truncated: bool
    answers: list[tuple[int, bytes]]


def encode_dns_name(name: str) -> bytes:
    """Encode a dotted name as DNS labels; IDNs must already be punycode."""
    labels = name.rstrip(".").split(".") if name.strip(".") else []
    out = bytearray()
    for label in labels:
        if not label or len(label) > 63 or not label.isascii():
            raise ProbeError(f"bad DNS name {name!r}: empty, non-ASCII or over-long label")
        out += bytes([len(label)]) + label.encode("ascii")
    out += b"\x00"
    if len(out) > 255:
        raise ProbeError(f"bad DNS name {name!r}: longer than 255 bytes")
    return bytes(out)


def encode_dns_query(name: str, qtype: int, qid: int) -> bytes:
    """Build a recursive (RD) query for one name, class IN."""
    return (
        struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
        + encode_dns_name(name)
        + struct.pack(">HH", qtype, 1)
    )


def decode_dns_name(data: bytes, offset: int) -> tuple[str, int]:
    """Follow compression pointers; return the name and the offset just past it in place."""
    labels: list[str] = []
    end = 0
    while data[offset]:
        length = data[offset]
        if length >= 0xC0:
            pointer = ((length & 0x3F) << 8) | data[offset + 1]
            if pointer >= offset:  # forward pointers could loop forever
                raise ValueError(f"DNS compression pointer at {offset} does not point backwards")
            end = end or offset + 2
            offset = pointer
        elif length > 63:
            raise ValueError(f"unsupported DNS label type 0x{length:02x} at {offset}")
        else:
            labels.append(data[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
            offset += 1 + length
    return ".".join(labels), end or offset + 1


def decode_dns_response(data: bytes) -> DnsReply:
    """Parse the header, skip the questions and collect (type, rdata) of each answer."""
    try:
        qid, flags, qdcount, ancount = struct.unpack(">HHHH", data[:8])
        offset = 12
        for _ in range(qdcount):
            offset = decode_dns_name(data, offset)[1] + 4
        answers = []
        for _ in range(ancount):
            offset = decode_dns_name(data, offset)[1]
            rtype, _cls, _ttl, size = struct.unpack(">HHIH", data[offset : offset + 10])
            answers.append((rtype, data[offset + 10 : offset + 10 + size]))
            offset += 10 + size
    except (IndexError, struct.error) as exc:
        raise ValueError("truncated DNS message") from exc
    if offset > len(data):
        raise ValueError("truncated DNS message")
    return DnsReply(qid, flags & 0xF, bool(flags & 0x0200), answers)


# --- probes ----------------------------------------------------------------------------------


@dataclass
class Probe:
    kind: str
    target: str
    timeout: float
    id: Any
    opts: dict[str, Any]


def _time_left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


def open_socket(host: str, port: int, socktype: int, deadline: float) -> socket.socket:
    """Resolve and connect; for UDP connecting makes ICMP errors surface on recv."""
    family, _, _, _, addr = resolve(host, port, socktype, deadline)
    sock = socket.socket(family, socktype)
    try:
        sock.settimeout(_time_left(deadline))
        sock.connect(addr)
    except BaseException:
        sock.close()
        raise
    return sock


def attach_body(result: dict[str, Any], data: bytes) -> dict[str, Any]:
    """Parsed JSON goes into "response", anything else into a "body" preview."""
    text = data.decode("utf-8", "replace")
    try:
        result["response"] = json.loads(text)
    except ValueError:
        result["body"] = text[:BODY_PREVIEW]
    return result


class TcpProbe:
    """One TCP probe's progress on the batch's selector: connecting, then reading if asked."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.started = self.deadline = 0.0
        self.sock: socket.socket | None = None
        self.buffer = bytearray()
        self.outcome: dict[str, Any] = {}

    def start(self, selector: selectors.BaseSelector) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + self.probe.timeout
        try:
            host, port = split_hostport(self.probe.target)
            family, _, _, _, addr = resolve(host, port, socket.SOCK_STREAM, self.deadline)
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setblocking(False)
            code = self.sock.connect_ex(addr)
            if code not in (0, errno.EINPROGRESS):
                raise OSError(code, os.strerror(code))
            selector.register(self.sock, selectors.EVENT_WRITE, self)
        except Exception as exc:
            verdict, detail = classify(exc)
            self.outcome = {"verdict": verdict, "detail": detail}
            self.close(selector)

    def step(self, selector: selectors.BaseSelector) -> None:
        """The socket is ready: the connect finished, or data (or EOF) arrived."""
        assert self.sock is not None
        try:
            if not self.outcome:
                code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, os.strerror(code))
                self._connected(selector)
                return
            data = self.sock.recv(65536)
        except OSError as exc:
            self._failed(classify(exc))
            self.close(selector)
            return
        self.buffer += data
        if not data or b"\n" in self.buffer or len(self.buffer) >= MAX_BODY:
            line = bytes(self.buffer).split(b"\n", 1)[0]
            if line:
                attach_body(self.outcome, line)
            self.close(selector)

    def expire(self, selector: selectors.BaseSelector) -> None:
        """The deadline passed. A handshake the kernel finished counts even if we look late:
        a busy loop may lag, and a lag must never pose as a drop."""
        assert self.sock is not None
        if not self.outcome:
            try:
                self.sock.getpeername()
                self._connected(selector)
            except OSError:
                pass
        self._failed(("dropped", "timed out"))
        self.close(selector)

    def _connected(self, selector: selectors.BaseSelector) -> None:
        assert self.sock is not None
        peer = format_addr(self.sock.getpeername())
        self.outcome = {"verdict": "connected", "detail": f"connected to {peer}"}
        if self.probe.opts.get("read"):
            selector.modify(self.sock, selectors.EVENT_READ, self)
        else:
            self.close(selector)

    def _failed(self, why: tuple[str, str]) -> None:
        """Before the connect, the probe's verdict; after it, a note on the failed read."""
        if not self.outcome:
            self.outcome = {"verdict": why[0], "detail": why[1]}
        else:
            self.outcome["detail"] += f"; read failed: {why[1]}"

    def close(self, selector: selectors.BaseSelector) -> None:
        """Reset rather than linger in TIME_WAIT: a large batch to one port must not run out
        of source ports on the next round."""
        if self.sock is None:
            return
        if selector.get_map().get(self.sock) is not None:
            selector.unregister(self.sock)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
        self.sock = None


def run_tcp_probes(probes: list[Probe], max_open: int) -> list[dict[str, Any]]:
    """Every TCP probe of a batch on one selector, at most `max_open` sockets at a time."""
    states = [TcpProbe(probe) for probe in probes]
    waiting = collections.deque(states)
    deadlines: list[tuple[float, int, TcpProbe]] = []
    order = itertools.count()
    live: set[TcpProbe] = set()
    with selectors.DefaultSelector() as selector:
        while waiting or live:
            while waiting and len(live) < max_open:
                state = waiting.popleft()
                state.start(selector)
                if state.sock is not None:
                    live.add(state)
                    heapq.heappush(deadlines, (state.deadline, next(order), state))
            if not live:
                break  # every remaining probe failed before its connect
            ready = [key.data for key, _ in selector.select(deadlines[0][0] - time.monotonic())]
            for state in ready:
                state.step(selector)
            now = time.monotonic()
            while deadlines and deadlines[0][0] <= now:
                state = heapq.heappop(deadlines)[2]
                if state.sock is not None:
                    state.expire(selector)
                ready.append(state)
            live.difference_update(state for state in ready if state.sock is None)
    return [
        _result(state.probe, state.outcome, time.monotonic() - state.started) for state in states
    ]


def receive_by(sock: socket.socket, deadline: float) -> bytes:
    """A datagram that came by the deadline counts even when a busy machine lets this thread
    read it late, as a TCP probe is judged by its socket's state: only an empty socket past
    the deadline is a drop."""
    sock.settimeout(max(deadline - time.monotonic(), 0.0))
    try:
        return sock.recv(65535)
    except BlockingIOError:
        raise TimeoutError("timed out") from None


def probe_udp(probe: Probe, deadline: float) -> dict[str, Any]:
    host, port = split_hostport(probe.target)
    with open_socket(host, port, socket.SOCK_DGRAM, deadline) as sock:
        sock.send(probe.opts.get("payload", "netconform").encode())
        data = receive_by(sock, deadline)
        detail = f"{len(data)} bytes from {format_addr(sock.getpeername())}"
        return attach_body({"verdict": "connected", "detail": detail}, data)


def tls_context(opts: dict[str, Any]) -> ssl.SSLContext:
    if opts.get("insecure"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx = ssl.create_default_context(cafile=opts.get("ca"), cadata=opts.get("ca_pem"))
    # Python 3.13 made strict X.509 checks the default; apply them on every version alike.
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    return ctx


def probe_http(probe: Probe, deadline: float) -> dict[str, Any]:
    url = urlsplit(probe.target)
    tls = url.scheme == "https"
    host = url.hostname or ""
    port = url.port or (443 if tls else 80)
    sock = open_socket(host, port, socket.SOCK_STREAM, deadline)
    served = None
    try:
        if tls:
            sock.settimeout(_time_left(deadline))
            sni = probe.opts.get("sni") or host
            sock = tls_context(probe.opts).wrap_socket(sock, server_hostname=sni)
            der = sock.getpeercert(binary_form=True)
            served = ssl.DER_cert_to_PEM_cert(der) if der else None
        conn = http.client.HTTPConnection(host, port)
        conn.sock = sock
        headers = {"User-Agent": "netconform-netprobe", **probe.opts.get("headers", {})}
        if "host" in probe.opts:
            headers["Host"] = probe.opts["host"]
        sock.settimeout(_time_left(deadline))
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        conn.request(probe.opts.get("method", "GET"), path, None, headers)
        resp = conn.getresponse()
        body = resp.read(MAX_BODY)
    finally:
        sock.close()
    result = {"verdict": f"http-{resp.status}", "detail": f"{resp.status} {resp.reason}"}
    if resp.getheader("Location"):
        result["location"] = resp.getheader("Location")
    if served:
        result["certificate"] = served
    return attach_body(result, body)


def probe_dns(probe: Probe, deadline: float) -> dict[str, Any]:
    host, port = split_hostport(probe.opts["server"], 53)
    qtype = QTYPES[probe.opts.get("type", "A")]
    qid = random.getrandbits(16)
    query = encode_dns_query(probe.target, qtype, qid)
    socktype = socket.SOCK_STREAM if probe.opts.get("tcp") else socket.SOCK_DGRAM
    with open_socket(host, port, socktype, deadline) as sock:
        if socktype == socket.SOCK_STREAM:
            sock.sendall(struct.pack(">H", len(query)) + query)
            sock.settimeout(_time_left(deadline))
            stream = sock.makefile("rb")
            reply = decode_dns_response(stream.read(struct.unpack(">H", stream.read(2))[0]))
        else:
            sock.send(query)
            reply = None
            while reply is None or reply.qid != qid:
                reply = decode_dns_response(receive_by(sock, deadline))
        peer = format_addr(sock.getpeername())
    if reply.qid != qid:
        raise ValueError(f"DNS reply id {reply.qid} does not match query id {qid}")
    rcode = RCODES[reply.rcode] if reply.rcode < len(RCODES) else f"RCODE{reply.rcode}"
    family, size = (socket.AF_INET, 4) if qtype == QTYPES["A"] else (socket.AF_INET6, 16)
    # Only address records of the asked type count: a CNAME chain is not an answer here.
    answers = [
        socket.inet_ntop(family, rd) for rt, rd in reply.answers if rt == qtype and len(rd) == size
    ]
    note = ", truncated (TC)" if reply.truncated else ""
    return {
        "verdict": "connected" if rcode == "NOERROR" else f"dns-error:{rcode}",
        "detail": f"{rcode} from {peer}, {len(answers)} answer(s){note}",
        "rcode": rcode,
        "answers": answers,
    }


def probe_hold(probe: Probe, deadline: float) -> dict[str, Any]:
    """One TCP connection to an echo server kept until the deadline, a line echoed every
    `every_ms`: whether it lives through what happens meanwhile (an agent restarting), how
    long it lived, and the longest wait for an echo."""
    host, port = split_hostport(probe.target)
    every = probe.opts.get("every_ms", 200) / 1000
    opened = time.monotonic()
    echoes, longest = 0, 0.0
    with (
        open_socket(host, port, socket.SOCK_STREAM, deadline) as sock,
        sock.makefile("rb") as lines,
    ):
        sock.settimeout(_time_left(deadline))
        lines.readline()
        try:
            while time.monotonic() + every < deadline:
                line = f"{echoes}\n".encode()
                sent = time.monotonic()
                sock.sendall(line)
                sock.settimeout(_time_left(deadline))
                if lines.readline() != line:
                    raise ConnectionResetError(errno.ECONNRESET, "echo lost: connection closed")
                longest = max(longest, time.monotonic() - sent)
                echoes += 1
                time.sleep(max(0.0, every - (time.monotonic() - sent)))
        except OSError as exc:
            verdict, detail = classify(exc)
        else:
            verdict, detail = "connected", f"held to {format_addr(sock.getpeername())}"
    return {
        "verdict": verdict,
        "detail": detail,
        "held_s": round(time.monotonic() - opened, 3),
        "echoes": echoes,
        "longest_wait_ms": round(longest * 1000, 1),
    }


THREADED = {"udp": probe_udp, "http": probe_http, "dns": probe_dns, "hold": probe_hold}


def _result(probe: Probe, outcome: dict[str, Any], elapsed: float) -> dict[str, Any]:
    result = {
        "id": probe.id,
        "kind": probe.kind,
        "target": probe.target,
        "verdict": outcome.pop("verdict", "error"),
        "elapsed_ms": round(elapsed * 1000, 1),
        "detail": outcome.pop("detail", "no outcome"),
    }
    result.update(outcome)
    return result


def run_threaded_probe(probe: Probe) -> dict[str, Any]:
    """One probe in a worker thread; its clock starts when a thread takes it, not when queued.
    Every failure becomes a verdict so one bad target never sinks a batch."""
    start = time.monotonic()
    try:
        outcome = THREADED[probe.kind](probe, start + probe.timeout)
    except Exception as exc:
        verdict, detail = classify(exc)
        outcome = {"verdict": verdict, "detail": detail}
    return _result(probe, outcome, time.monotonic() - start)


def raise_open_files_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard one: every probe in flight holds a socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (OSError, ValueError):
            pass
    return soft


def run_batch(probes: list[Probe]) -> list[dict[str, Any]]:
    """Probes run concurrently so a batch costs about one timeout, however many time out:
    plain TCP connects all at once on one selector, the rest in a thread pool beside it."""
    if not probes:
        return []
    max_open = max(1, raise_open_files_limit() - RESERVED_FDS - MAX_THREADS)
    rest = [probe for probe in probes if probe.kind != "tcp"]
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_THREADS, len(rest)))) as pool:
        threaded = iter([pool.submit(run_threaded_probe, probe) for probe in rest])
        tcp = iter(run_tcp_probes([probe for probe in probes if probe.kind == "tcp"], max_open))
        return [next(tcp) if probe.kind == "tcp" else next(threaded).result() for probe in probes]


# --- probe input -----------------------------------------------------------------------------


def _timeout(value: Any, where: str) -> float:
    """A timeout shorter than a round trip would call an open port dropped, and a deny passes
    on dropped: refuse it rather than let it pose as one."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not MIN_TIMEOUT <= value <= 3600:
        raise ProbeError(
            f"{where}: timeout must be a number of seconds in [{MIN_TIMEOUT:g}, 3600], "
            f"not {value!r}"
        )
    return float(value)


def _check_target(kind: str, target: str, opts: dict[str, Any]) -> None:
    """Reject targets that could never be probed, so harness bugs do not pose as verdicts."""
    if kind in ("tcp", "udp", "hold"):
        split_hostport(target)
    elif kind == "http":
        if "ca" in opts and not os.path.isfile(opts["ca"]):
            raise ProbeError(f'"ca" file {opts["ca"]!r} does not exist or is not a file')
        url = urlsplit(target)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ProbeError(f"bad URL {target!r}: expected http://host[:port]/path or https://")
        try:
            url.port  # noqa: B018
        except ValueError:
            raise ProbeError(f"bad port in URL {target!r}") from None
    else:
        encode_dns_name(target)
        if opts.get("type", "A") not in QTYPES:
            raise ProbeError(f'"type" must be one of {", ".join(QTYPES)}, not {opts["type"]!r}')
        if "server" not in opts:
            raise ProbeError('a dns probe needs "server": "ip[:port]"')
        split_hostport(opts["server"], 53)


def parse_probe(raw: Any, index: int, default_timeout: float) -> Probe:
    where = f"probe {index}"
    if not isinstance(raw, dict):
        raise ProbeError(f"{where}: expected an object, not {json.dumps(raw)[:60]}")
    if "id" in raw:
        where += f" (id {json.dumps(raw['id'])[:60]})"
    # "tcp" doubles as the DNS transport flag, so "dns" decides the kind when present.
    kinds = [k for k in KINDS if k in raw and not (k == "tcp" and "dns" in raw)]
    if len(kinds) != 1:
        problem = f"several probe kinds ({', '.join(kinds)})" if kinds else "unknown probe kind"
        keys = ", ".join(sorted(raw))
        raise ProbeError(
            f"{where}: {problem} in keys {keys}; need exactly one of {', '.join(KINDS)}"
        )
    kind = kinds[0]
    unknown = sorted(set(raw) - {"id", "timeout", kind, *OPTIONS[kind]})
    if unknown:
        raise ProbeError(f"{where}: unknown key(s) for a {kind} probe: {', '.join(unknown)}")
    target = raw[kind]
    if not isinstance(target, str) or not target:
        raise ProbeError(f"{where}: {kind} target must be a non-empty string")
    opts = {k: v for k, v in raw.items() if k in OPTIONS[kind]}
    for key, value in opts.items():
        if not isinstance(value, OPTIONS[kind][key]):
            raise ProbeError(f"{where}: {key!r} must be of type {OPTIONS[kind][key].__name__}")
    try:
        _check_target(kind, target, opts)
    except ProbeError as exc:
        raise ProbeError(f"{where}: {exc}") from None
    timeout = _timeout(raw.get("timeout", default_timeout), where)
    return Probe(kind, target, timeout, raw.get("id"), opts)


def parse_batch(doc: Any) -> list[Probe]:
    """Accept one probe, a list of probes, or {"probes": [...], "timeout": default}."""
    default = DEFAULT_TIMEOUT
    if isinstance(doc, dict) and "probes" in doc:
        extra = sorted(set(doc) - {"probes", "timeout"})
        if extra:
            raise ProbeError(f'unknown key(s) next to "probes": {", ".join(extra)}')
        default = _timeout(doc.get("timeout", DEFAULT_TIMEOUT), "batch")
        doc = doc["probes"]
        if not isinstance(doc, list):
            raise ProbeError('"probes" must be a list')
    elif isinstance(doc, dict):
        doc = [doc]
    elif not isinstance(doc, list):
        raise ProbeError('expected a probe object, a list of probes or {"probes": [...]}')
    return [parse_probe(raw, i, default) for i, raw in enumerate(doc)]


def probe_main(data: bytes) -> tuple[dict[str, Any], int]:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        message = "no JSON document on stdin" if not data.strip() else f"invalid JSON: {exc}"
        return {"error": message}, 2
    except RecursionError:
        return {"error": "invalid JSON: nested too deeply"}, 2
    try:
        probes = parse_batch(doc)
    except ProbeError as exc:
        return {"error": str(exc)}, 2
    return {"results": run_batch(probes)}, 0


def session_main(lines: Any, out: Any) -> int:
    """Batches one JSON line each, answered one JSON line each, until stdin ends: one process
    (and one exec into its pod) serves a whole run instead of one per batch."""
    for line in lines:
        if line.strip():
            output, _ = probe_main(line)
            out.write(json.dumps(output).encode() + b"\n")
            out.flush()
    return 0


# --- serve -----------------------------------------------------------------------------------


def identity() -> dict[str, str]:
    return {
        "pod": os.environ.get("POD_NAME") or socket.gethostname(),
        "namespace": os.environ.get("POD_NAMESPACE", ""),
        "node": os.environ.get("NODE_NAME", ""),
    }


class _ServerMixin:
    """Dual-stack binding and quiet error handling shared by the TCP and UDP servers."""

    daemon_threads = True

    def __init__(self, address: tuple, handler: Any, family: int, ident: dict, proto: str) -> None:
        self.address_family = family
        self.identity = ident
        self.proto = proto
        super().__init__(address, handler)

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that vanish mid-request are not netprobe's problem; stderr stays clean."""

    def describe(self, client: tuple, sock: socket.socket) -> dict[str, Any]:
        port = sock.getsockname()[1]
        return {**self.identity, "client": format_addr(client), "port": port, "proto": self.proto}


class TCPServer(_ServerMixin, socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG
    context: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Handshake in the connection's own thread, so a slow TLS client blocks nobody."""
        if self.context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)
        with self.context.wrap_socket(request, server_side=True) as tls:
            super().finish_request(tls, client_address)


class UDPServer(_ServerMixin, socketserver.ThreadingUDPServer):
    # No SO_REUSEADDR here: Linux would let two UDP sockets share the port instead of failing.
    max_packet_size = 65535


class EchoHandler(socketserver.BaseRequestHandler):
    """Identity first, then echo, so clients can check both who answered and both directions."""

    def handle(self) -> None:
        sock = self.request
        sock.sendall(json.dumps(self.server.describe(self.client_address, sock)).encode() + b"\n")
        while True:
            data = sock.recv(65536)
            if not data:
                return
            sock.sendall(data)


class DatagramHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.describe(self.client_address, sock)
        reply["payload"] = data.decode("utf-8", "replace")
        sock.sendto(json.dumps(reply).encode(), self.client_address)


def _remember_sni(tls: ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
    tls.netconform_sni = name


class HTTPHandler(BaseHTTPRequestHandler):
    """Every method and path reflects the request, so tests can see what the proxy changed."""

    timeout = 30
    server_version = "netconform-netprobe"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self.reply
        raise AttributeError(name)

    def log_message(self, *args: Any) -> None:
        """Silent: nobody drains netprobe's stderr after the "serving" line."""

    def reply(self) -> None:
        length = self.headers.get("Content-Length", "")
        if is_port_number(length):
            self.rfile.read(min(int(length), MAX_BODY))
        wanted = re.match(r"/status/(\d{3})(?:[/?]|$)", self.path)
        status = int(wanted.group(1)) if wanted and 200 <= int(wanted.group(1)) < 600 else 200
        info = self.server.describe(self.client_address, self.connection)
        info.update(
            host=self.headers.get("Host"),
            path=self.path,
            method=self.command,
            headers=dict(self.headers.items()),
            sni=getattr(self.connection, "netconform_sni", None),
        )
        body = json.dumps(info).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


HANDLERS = {"tcp": EchoHandler, "udp": DatagramHandler, "http": HTTPHandler, "https": HTTPHandler}


def bind_family(bind: str) -> tuple[int, str]:
    """The default "::" serves IPv4 too; without IPv6 in the namespace, fall back to 0.0.0.0."""
    if bind == "::":
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
                sock.bind(("::", 0))
        except OSError:
            return socket.AF_INET, "0.0.0.0"
    return (socket.AF_INET6 if ":" in bind else socket.AF_INET), bind


def serve(args: argparse.Namespace) -> int:
    raise_open_files_limit()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    family, host = bind_family(args.bind)
    context = None
    if args.https:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.sni_callback = _remember_sni
        try:
            context.load_cert_chain(args.cert, args.key)
        except (OSError, ssl.SSLError) as exc:
            print(f"agent: cannot load --cert/--key: {exc}", file=sys.stderr)
            return 2
    servers: list[Any] = []
    for proto in PROTOS:
        cls = UDPServer if proto == "udp" else TCPServer
        for port in getattr(args, proto):
            try:
                servers.append(cls((host, port), HANDLERS[proto], family, identity(), proto))
            except OSError as exc:
                print(f"agent: cannot bind {proto} port {port} on {host}: {exc}", file=sys.stderr)
                for server in servers:
                    server.server_close()
                return 2
            servers[-1].context = context if proto == "https" else None
    for server in servers:
        threading.Thread(target=server.serve_forever, args=(0.2,), daemon=True).start()
    listing = " ".join(
        f"{proto}=[{','.join(str(s.server_address[1]) for s in servers if s.proto == proto)}]"
        for proto in PROTOS
    )
    print(f"serving {listing}", file=sys.stderr, flush=True)
    stop.wait()
    with ThreadPoolExecutor(len(servers)) as pool:
        for server in servers:
            pool.submit(server.shutdown)
    for server in servers:
        server.server_close()
    return 0


# --- capture ---------------------------------------------------------------------------------

ETH_P_ALL = 0x0003
ARPHRD_ETHER, ARPHRD_LOOPBACK = 1, 772
ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN = 0x0800, 0x86DD, 0x8100
IPPROTO_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}
ND_TYPES = range(133, 138)  # router/neighbour solicitation and advertisement, redirect
VXLAN_PORTS = (8472, 4789)  # Cilium's default, IANA's
CAPTURE_BUFFER = 1 << 18


class Packet(NamedTuple):
    src: str
    dst: str
    proto: str
    sport: int
    dport: int
    payload: bytes


def parse_ip(data: bytes) -> Packet | None:
    """The IPv4 or IPv6 header and the TCP/UDP ports at the start of `data`, if any."""
    if not data:
        return None
    version = data[0] >> 4
    if version == 4 and len(data) >= 20:
        header = (data[0] & 0x0F) * 4
        proto, src, dst = data[9], data[12:16], data[16:20]
        family = socket.AF_INET
    elif version == 6 and len(data) >= 40:
        header, proto, src, dst = 40, data[6], data[8:24], data[24:40]
        family = socket.AF_INET6
    else:
        return None
    rest = data[header:]
    sport = dport = 0
    if proto in (6, 17) and len(rest) >= 4:
        sport, dport = struct.unpack(">HH", rest[:4])
    offset = 8 if proto == 17 else ((rest[12] >> 4) * 4 if proto == 6 and len(rest) > 12 else 0)
    if proto == 58 and rest and rest[0] in ND_TYPES:
        proto_name = "nd"
    else:
        proto_name = IPPROTO_NAMES.get(proto, str(proto))
    addresses = (socket.inet_ntop(family, src), socket.inet_ntop(family, dst))
    return Packet(*addresses, proto_name, sport, dport, rest[offset:])


def parse_frame(frame: bytes, hatype: int) -> Packet | None:
    """An Ethernet frame (or a bare IP packet on a tunnel device) down to its ports."""
    if hatype not in (ARPHRD_ETHER, ARPHRD_LOOPBACK):
        return parse_ip(frame)
    offset, ethertype = 14, struct.unpack(">H", frame[12:14])[0] if len(frame) >= 14 else 0
    if ethertype == ETHERTYPE_VLAN and len(frame) >= 18:
        offset, ethertype = 18, struct.unpack(">H", frame[16:18])[0]
    if ethertype not in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
        return None
    return parse_ip(frame[offset:])


def inner_of(packet: Packet) -> Packet | None:
    """The packet a VXLAN datagram carries (8 bytes of VXLAN, then Ethernet)."""
    if packet.proto != "udp" or packet.dport not in VXLAN_PORTS or len(packet.payload) < 8:
        return None
    return parse_frame(packet.payload[8:], ARPHRD_ETHER)


def capture_filter(spec: dict[str, Any]) -> Any:
    """{"hosts": [...], "proto": "udp", "port": 51871}: every given condition must hold."""
    hosts = {str(ipaddress.ip_address(h)) for h in spec.get("hosts") or ()}
    proto, port = spec.get("proto"), spec.get("port")

    def keep(packet: Packet) -> bool:
        return (
            (not hosts or packet.src in hosts or packet.dst in hosts)
            and (not proto or packet.proto == proto)
            and (not port or port in (packet.sport, packet.dport))
        )

    return keep


def capture(
    interface: str, seconds: float, spec: dict[str, Any], marker: bytes, vxlan: bool
) -> dict[str, Any]:
    """Count the matching packets per flow on `interface` for `seconds`, and whether `marker`
    was seen in clear anywhere in a frame. Neighbour discovery and ARP are left out."""
    keep = capture_filter(spec)
    flows: dict[tuple[str, str, str, int, int], list[int]] = {}
    seen = ignored = 0
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(ETH_P_ALL)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CAPTURE_BUFFER)
        sock.bind((interface, 0))
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                frame, address = sock.recvfrom(65535)
            except (socket.timeout, TimeoutError):  # noqa: UP041 (3.9: not yet one class)
                break
            packet = parse_frame(frame, address[3])
            if packet is None or packet.proto == "nd":
                ignored += 1
                continue
            judged = (inner_of(packet) or packet) if vxlan else packet
            if not keep(judged):
                continue
            key = (judged.src, judged.dst, judged.proto, judged.sport, judged.dport)
            counted = flows.setdefault(key, [0, 0])
            counted[0] += 1
            counted[1] += len(frame)
            if marker and marker in frame:
                seen += 1
    listed = [
        {"src": k[0], "dst": k[1], "proto": k[2], "sport": k[3], "dport": k[4],
         "packets": v[0], "bytes": v[1]}
        for k, v in sorted(flows.items(), key=lambda item: -item[1][0])
    ]  # fmt: skip
    return {
        "interface": interface,
        "seconds": seconds,
        "packets": sum(v[0] for v in flows.values()),
        "flows": listed,
        "marker_packets": seen,
        "ignored": ignored,
    }


def capture_main(args: argparse.Namespace) -> int:
    try:
        spec = json.loads(args.filter) if args.filter else {}
        if not isinstance(spec, dict):
            raise ValueError("the filter must be a JSON object")
        result = capture(args.interface, args.seconds, spec, args.marker.encode(), args.vxlan)
    except (ValueError, OSError) as exc:
        print(json.dumps({"error": f"capture on {args.interface}: {exc}"}), flush=True)
        return 2
    print(json.dumps(result), flush=True)
    return 0


# --- command line ----------------------------------------------------------------------------


def port_list(text: str) -> list[int]:
    """Comma-separated ports; 0 asks the kernel for a free one (the "serving" line tells which)."""
    ports = []
    for item in text.split(","):
        item = item.strip()
        if not is_port_number(item) or int(item) > 65535:
            raise argparse.ArgumentTypeError(f"bad port {item!r} in {text!r}")
        ports.append(int(item))
    return ports


def bind_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IP address: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netprobe.py", description=(__doc__ or "").split("\n")[0])
    modes = parser.add_subparsers(dest="mode", metavar="MODE", required=True)
    serve_cmd = modes.add_parser(
        "serve",
        help="answer on TCP/UDP/HTTP/HTTPS ports with this pod's identity",
        description="Serve until SIGTERM/SIGINT. Identity: POD_NAME, POD_NAMESPACE, NODE_NAME.",
    )
    serve_cmd.add_argument(
        "--bind", default="::", type=bind_address, help="default :: (dual stack)"
    )
    for proto in PROTOS:
        serve_cmd.add_argument(
            f"--{proto}",
            metavar="PORTS",
            type=port_list,
            action="append",
            default=None,
            help=f"comma-separated {proto} ports; repeatable",
        )
    serve_cmd.add_argument("--cert", help="PEM certificate chain for --https")
    serve_cmd.add_argument("--key", help="PEM private key for --https")
    modes.add_parser(
        "probe",
        help="run the probes given as JSON on stdin, print verdicts as JSON",
        description='Reads {"probes": [...], "timeout": s}, a list or one probe object on stdin.',
    )
    modes.add_parser(
        "session",
        help="like probe, for many batches: one JSON line in, one JSON line out, until EOF",
        description="Each line on stdin is a batch as probe reads it; each answer is one line.",
    )
    capture_cmd = modes.add_parser(
        "capture",
        help="count packets per flow on an interface and look for a marker in clear text",
        description="AF_PACKET capture (root or CAP_NET_RAW) for a bounded time; JSON out.",
    )
    capture_cmd.add_argument("--interface", required=True)
    capture_cmd.add_argument("--seconds", type=float, default=3.0)
    capture_cmd.add_argument("--filter", help='JSON: {"hosts": [...], "proto": "udp", "port": N}')
    capture_cmd.add_argument("--marker", default="", help="text to look for in every frame")
    capture_cmd.add_argument(
        "--vxlan", action="store_true", help="judge VXLAN datagrams by the packet inside"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.mode == "probe":
        output, code = probe_main(sys.stdin.buffer.read())
        print(json.dumps(output), flush=True)
        return code
    if args.mode == "session":
        return session_main(sys.stdin.buffer, sys.stdout.buffer)
    if args.mode == "capture":
        return capture_main(args)
    for proto in PROTOS:
        setattr(args, proto, [port for group in getattr(args, proto) or [] for port in group])
    if not any(getattr(args, proto) for proto in PROTOS):
        parser.error("serve: give at least one of --tcp, --udp, --http, --https")
    if args.https and not (args.cert and args.key):
        parser.error("serve: --https needs --cert and --key")
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
