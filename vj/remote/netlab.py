"""Two machines on one machine, for the remote generator's tests and `vj bench remote`: a pair of
network namespaces (root and iproute2) with private addresses that exist only there, joined either
by a veth pair, or through a relay that delays packets (this kernel has no netem). Loss comes from
iptables' `statistic` match on the receiving side of each namespace. Nothing here touches the
machine's own network, and everything is deleted on the way out.

    Lab("veth")                      show ns  10.213.0.1 --veth-- 10.213.0.2  box ns
    Lab("relay", delay_ms, jitter)   show ns  10.214.0.1 --tun--  relay  --tun-- 10.214.0.2  box ns

The relay is a process of its own holding a TUN device in each namespace: it reads each IP packet
from one side and writes it to the other once its delay has passed (delay +- jitter, uniform; in
order, as a queue on a real path keeps them). Packets are delayed below TCP, so its retransmission
timers see the round trip a real path would give them.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import heapq
import os
import random
import select
import struct
import subprocess
import sys
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


def _ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


class Lab:
    """The pair of namespaces; `show` and `box` name them, `show_addr` and `box_addr` their addresses."""

    def __init__(self, kind: str = "veth", delay_ms: float = 0.0, jitter_ms: float = 0.0, tag: str = "") -> None:
        if kind not in ("veth", "relay"):
            raise ValueError(f"lab kind {kind!r}: veth or relay")
        pid = os.getpid()
        self.kind, self.delay_ms, self.jitter_ms = kind, delay_ms, jitter_ms
        self.show, self.box = f"vjr{tag}s{pid}", f"vjr{tag}b{pid}"
        net = "10.213.0" if kind == "veth" else "10.214.0"
        self.show_addr, self.box_addr = f"{net}.1", f"{net}.2"
        self.show_dev, self.box_dev = f"vr{tag}s{pid}"[:15], f"vr{tag}b{pid}"[:15]
        self._relay: subprocess.Popen | None = None

    def __enter__(self) -> "Lab":
        try:
            for ns in (self.show, self.box):
                _ip("ip", "netns", "add", ns)
                _ip("ip", "link", "set", "lo", "up", ns=ns)
            if self.kind == "veth":
                self._veth()
            else:
                self._tun()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _veth(self) -> None:
        _ip("ip", "link", "add", self.show_dev, "netns", self.show, "type", "veth", "peer", "name", self.box_dev,
            "netns", self.box)
        for ns, dev, addr in ((self.show, self.show_dev, self.show_addr), (self.box, self.box_dev, self.box_addr)):
            _ip("ip", "addr", "add", f"{addr}/30", "dev", dev, ns=ns)
            _ip("ip", "link", "set", dev, "up", ns=ns)

    def _tun(self) -> None:
        self._relay = subprocess.Popen([sys.executable, "-m", "vj.remote.netlab", self.show, self.box, self.show_dev,
                                        self.box_dev, str(self.delay_ms), str(self.jitter_ms)],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self._relay.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"the delaying relay did not start: {line}{self._relay.stderr.read()}")
        for ns, dev, addr, peer in ((self.show, self.show_dev, self.show_addr, self.box_addr),
                                    (self.box, self.box_dev, self.box_addr, self.show_addr)):
            _ip("ip", "addr", "add", addr, "peer", peer, "dev", dev, ns=ns)
            _ip("ip", "link", "set", dev, "up", ns=ns)

    def loss(self, fraction: float) -> None:
        """Drop this fraction of the packets each way (iptables' statistic match, both namespaces)."""
        for ns, dev in ((self.show, self.show_dev), (self.box, self.box_dev)):
            _ip("iptables", "-F", "INPUT", ns=ns)
            if fraction > 0:
                _ip("iptables", "-A", "INPUT", "-i", dev, "-m", "statistic", "--mode", "random", "--probability",
                    f"{fraction:.4f}", "-j", "DROP", ns=ns)

    def cable(self, plugged: bool) -> None:
        """The box's side of the link down (a cable pulled) or up again."""
        _ip("ip", "link", "set", self.box_dev, "up" if plugged else "down", ns=self.box)

    def argv(self, ns: str, argv: list[str]) -> list[str]:
        """A command line that runs in namespace `ns`."""
        return ["ip", "netns", "exec", ns] + list(argv)

    def __exit__(self, *exc) -> None:
        if self._relay is not None:
            self._relay.kill()  # its TUN devices go with it
            self._relay.wait(5)
            self._relay.stdout.close()
            self._relay.stderr.close()
            self._relay = None
        for ns in (self.show, self.box):
            _ip("ip", "netns", "del", ns, check=False)


# -- the relay (a process of its own: it enters each namespace to make its device) ----------------------
def _tun_in(ns: str, dev: str) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    nsfd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(nsfd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {ns}")
    finally:
        os.close(nsfd)
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", dev.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def relay(show: str, box: str, show_dev: str, box_dev: str, delay_ms: float, jitter_ms: float) -> None:
    """Packets from each device to the other, each held delay +- jitter ms, in order. It runs at a
    raised priority (it is the wire: starved of CPU by the show and the box on a small machine, it
    would add delays no network has)."""
    a, b = _tun_in(show, show_dev), _tun_in(box, box_dev)
    try:
        os.nice(-10)
    except OSError:
        pass  # not root: as it is
    print("ready", flush=True)
    other = {a: b, b: a}
    rng = random.Random(os.getpid())
    held: list[tuple[float, int, int, bytes]] = []  # (release time, seq, to fd, packet)
    last = {a: 0.0, b: 0.0}  # the last release time each way: never earlier (no reordering)
    seq = 0
    while True:
        wait = max(0.0, held[0][0] - time.monotonic()) if held else 0.5
        ready, _, _ = select.select([a, b], [], [], wait)
        now = time.monotonic()
        for fd in ready:
            packet = os.read(fd, 65536)
            to = other[fd]
            t = max(last[to], now + (delay_ms + rng.uniform(-jitter_ms, jitter_ms)) / 1e3)
            last[to] = t
            seq += 1
            heapq.heappush(held, (t, seq, to, packet))
        while held and held[0][0] <= time.monotonic():
            _, _, to, packet = heapq.heappop(held)
            try:
                os.write(to, packet)
            except OSError:
                pass  # the device is down (a cable pulled): the packet is lost, as on a wire


@contextlib.contextmanager
def lab(kind: str = "veth", delay_ms: float = 0.0, jitter_ms: float = 0.0, loss: float = 0.0, tag: str = ""):
    with Lab(kind, delay_ms, jitter_ms, tag) as net:
        if loss:
            net.loss(loss)
        yield net


if __name__ == "__main__":
    relay(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), float(sys.argv[6]))
