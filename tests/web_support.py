"""What the remote's tests share: a live show run as a performer starts it (`vj run --headless --web`),
its OSC listing and OSC out read back, liblo's oscsend, and Debian's Chromium driven by selenium."""

from __future__ import annotations

import collections
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from pythonosc.osc_packet import OscPacket

from vj.bench.web import CHROMEDRIVER, demo_with_graph
from vj.bench.web import chromium as open_chromium
from vj.control.osc import build_message
from helpers import ROOT, wait_until

graph_set = demo_with_graph  # the demo set with a scene graph (vj/bench/web.py: the screenshots play it too)

PHONE = (390, 844)
LAPTOP = (1366, 768)

def vj_list(port: int) -> dict:
    """/vj/list over OSC, as a control surface asks: address -> [types, min, max, value]."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(10)
    try:
        s.sendto(build_message("/vj/list", []).dgram, ("127.0.0.1", port))
        items = {}
        while True:
            for m in OscPacket(s.recvfrom(65536)[0]).messages:
                if m.message.address == "/vj/list/end":
                    return items
                args = list(m.message.params)
                items[args[0]] = args[1:]
    finally:
        s.close()


def listed(port: int, address: str):
    """The value /vj/list gives for one address."""
    return vj_list(port)[address][-1]


def oscsend(port: int, address: str, types: str, *args) -> None:
    exe = shutil.which("oscsend")
    if exe is None:
        pytest.fail("oscsend is missing: `make setup` installs it (liblo-tools)")
    subprocess.run([exe, "127.0.0.1", str(port), address, types, *map(str, args)], check=True, timeout=10)


class OscOut:
    """A listener for the show's OSC out: every message of every bundle, newest last (bounded)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.messages: collections.deque = collections.deque(maxlen=200000)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except OSError:
                continue
            for m in OscPacket(data).messages:
                self.messages.append((m.message.address, list(m.message.params), time.monotonic()))

    def values(self, address: str) -> list:
        return [args[0] for a, args, _ in list(self.messages) if a == address]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class LiveShow:
    """`vj run SET --headless --web 127.0.0.1:0` in a process of its own, its lines read as they come."""

    def __init__(self, set_path: Path, state: Path, *extra: str) -> None:
        self.osc_out = OscOut()
        env = dict(os.environ)
        env.pop("DISPLAY", None)
        cmd = [sys.executable, "-m", "vj", "run", str(set_path), "--headless", "--web", "127.0.0.1:0", "--osc-port", "0",
               "--osc-out", f"127.0.0.1:{self.osc_out.port}", "--audio", str(ROOT / "sets" / "demo-beat.ogg"),
               "--audio-loop", "--no-monitor", "--state", str(state), "--seed", "7", "--duration", "1200", *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        wait_until("the remote's address in the log", lambda: self.url and self.osc_port, timeout=300, alive=self.proc)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _found(self, pattern: str):
        for line in list(self.lines):
            m = re.search(pattern, line)
            if m:
                return m
        return None

    @property
    def url(self) -> str | None:
        m = self._found(r"web: the remote is at (http://\S+)")
        return m.group(1) if m else None

    @property
    def osc_port(self) -> int | None:
        m = self._found(r"OSC: listening on 127\.0\.0\.1:(\d+)")
        return int(m.group(1)) if m else None

    @property
    def web_port(self) -> int:
        return int(re.search(r":(\d+)/", self.url).group(1))

    def status_lines(self) -> list[str]:
        return [line for line in list(self.lines) if re.search(r"\| render +[\d.]+ fps", line)]

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.osc_out.close()
        return "\n".join(self.lines)


def chromium(width: int, height: int):
    """Debian's Chromium, headless, with a profile of its own (deleted with quit_browser)."""
    if not Path(CHROMEDRIVER).exists():
        pytest.fail("chromium-driver is missing: `make setup` installs it (Debian packages chromium, chromium-driver)")
    profile = tempfile.mkdtemp(prefix="vj-chromium-")
    driver = open_chromium(profile, width, height)
    driver.profile_dir = profile
    return driver


def emulate(driver, size: tuple[int, int], phone: bool) -> None:
    """The viewport of a phone (a touch screen, 2 device pixels a pixel) or of a laptop."""
    w, h = size
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": w, "height": h, "deviceScaleFactor": 2 if phone else 1, "mobile": phone})
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": phone, "maxTouchPoints": 5} if phone
                           else {"enabled": False})


def quit_browser(driver) -> None:
    try:
        driver.quit()
    finally:
        shutil.rmtree(driver.profile_dir, ignore_errors=True)


def wait_page(driver, ok, what: str, timeout: float = 30.0):
    """Until ok(driver) is truthy (an event in the page), polled; returns its value.

    An element not there yet, or one a re-render replaced, counts as "not yet": a page that
    reloads builds its faders only once the show's state has come over its socket."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    deadline = time.monotonic() + timeout
    missing = None
    while True:
        try:
            got = ok(driver)
            missing = None
        except (NoSuchElementException, StaleElementReferenceException) as e:
            got, missing = None, e.msg.splitlines()[0] if e.msg else type(e).__name__
        if got:
            return got
        if time.monotonic() > deadline:
            why = f" (last: {missing})" if missing else ""
            raise AssertionError(f"no {what} in the page within {timeout:g} s{why}")
        time.sleep(0.05)
