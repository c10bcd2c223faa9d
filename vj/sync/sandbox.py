"""Link where its multicast can't leave: a network namespace with nothing but loopback, and a plain
Link peer (as Ableton Live or Resolume would be one), for the tests and bench/clock.py. Link
discovers peers by UDP multicast; on the machine's own network that would reach every Link app on
the LAN, so nothing here ever runs Link outside such a namespace."""

from __future__ import annotations

import contextlib
import os
import subprocess


@contextlib.contextmanager
def loopback_namespace(prefix: str = "vjlink"):
    """A network namespace of its own (root and iproute2's `ip`): lo up, multicast routed to lo.
    Yields its name; run commands in it with `ip netns exec NAME ...`. Deleted on the way out."""
    name = f"{prefix}{os.getpid()}"
    setup = (["ip", "netns", "add", name], ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
             ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "multicast", "on"],
             ["ip", "netns", "exec", name, "ip", "route", "add", "224.0.0.0/4", "dev", "lo"])
    try:
        for cmd in setup:
            subprocess.run(cmd, check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def plain_peer(bpm: float, quantum: float = 4.0):
    """Another Link session in this process, on an asyncio loop of its own (call inside a namespace)."""
    import asyncio
    import threading

    import aalink

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="link-peer", daemon=True).start()

    async def make():
        p = aalink.Link(float(bpm))
        p.quantum = float(quantum)
        p.enabled = True
        return p

    return asyncio.run_coroutine_threadsafe(make(), loop).result(10)
