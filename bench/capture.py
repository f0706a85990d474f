"""Benchmark: the packets per second netprobe's capture mode keeps up with.

Runs on the lab (root): one host floods another with small UDP datagrams
through the lab's bridge while netprobe captures on the receiver's uplink.
Prints what was sent, what the capture counted, and the rate it sustained:
    capture: <n> of <m> packets counted in <s> s = <r> packets/s (<p>% of those sent)
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from lab.topology import Lab
from netconform.probe_client import NETPROBE_FILE

FLOOD = """
import socket, sys, time
count, deadline = 0, time.monotonic() + float(sys.argv[2])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while time.monotonic() < deadline:
    for _ in range(100):
        sock.sendto(b"netconform-bench", (sys.argv[1], 9))
    count += 100
print(count)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to flood")
    args = parser.parse_args()
    with Lab() as lab:
        sender, receiver = lab.host("sender", "198.18.44.1"), lab.host("receiver", "198.18.44.2")
        capture_seconds = args.seconds + 1.0
        argv = ["python3", str(NETPROBE_FILE), "capture", "--interface", "eth0",
                "--seconds", str(capture_seconds), "--marker", "netconform-bench",
                "--filter", json.dumps({"hosts": [sender.address], "proto": "udp"})]  # fmt: skip
        result: dict = {}

        def run_capture() -> None:
            done = receiver.exec.run(argv, timeout=capture_seconds + 30)
            result.update(json.loads(done.stdout))

        capturing = threading.Thread(target=run_capture)
        capturing.start()
        time.sleep(0.5)
        flood = ["python3", "-c", FLOOD, receiver.address, str(args.seconds)]
        sent = int(sender.exec.run(flood, timeout=args.seconds + 30).stdout.strip() or 0)
        capturing.join()
    counted = result.get("packets", 0)
    share = 100 * counted / sent if sent else 0.0
    print(
        f"capture: {counted} of {sent} packets counted in {args.seconds:g} s = "
        f"{counted / args.seconds:,.0f} packets/s ({share:.0f}% of those sent)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
