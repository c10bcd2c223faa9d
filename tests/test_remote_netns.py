"""The generator on another machine, across two network namespaces this test makes (a veth pair,
private addresses that exist only there; root and iproute2, iptables for the loss): frames in
order through 2 % loss each way, a cable pulled and plugged back, and `vj run` recording a show
whose frames are made over there."""

from __future__ import annotations

import os
import re
import shutil
import sys

import pytest

from helpers import decode, wait_until
from remote_box import Box, Proc, probe
from vj.remote.netlab import lab

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("iptables"),
                                reason="network namespaces need root, iproute2 and iptables (`make setup`)")


def test_across_namespaces_in_order_through_loss_and_a_pulled_cable(tmp_path):
    with lab("veth", loss=0.02) as net:
        box = Box(tmp_path / "box", bind=f"{net.box_addr}:9310", netns=net.box).ready()
        where = f"{net.box_addr}:9310"
        show = probe([where], [box.key], 10**6, netns=net.show)
        try:
            wait_until("20 frames across the namespaces", lambda: len(show.records()) >= 20, 240, alive=show.proc)
            net.cable(False)
            show.wait_said(f"generator {where}: lost (no word for", 30)
            n = len(show.records())
            net.cable(True)
            show.wait_said(f"generator {where}: back after", 60)
            wait_until("20 more frames after the cable is back", lambda: len(show.records()) >= n + 20, 120,
                       alive=show.proc)
            assert box.proc.poll() is None
        finally:
            show.close_stdin()
            show.finish(60)
            box.stop()
    idx = [r["index"] for r in show.records() if "index" in r]
    assert idx == sorted(set(idx)) and len(idx) >= 40
    assert show.said("lost (no word for") == 1
    assert "Traceback" not in show.text() + box.text()


def test_vj_run_records_a_show_made_on_the_other_side(tmp_path):
    out = tmp_path / "show.mp4"
    with lab("veth") as net:
        box = Box(tmp_path / "box", bind=f"{net.box_addr}:9310", netns=net.box).ready()
        show = Proc(net.argv(net.show, [sys.executable, "-m", "vj", "run", "--headless", "--audio", "none", "--no-osc",
                                        "--state", "none", "--duration", "6", "--size", "320x180", "--out", str(out),
                                        "--generator", f"{net.box_addr}:9310", "--generator-key", box.key]))
        try:
            rc = show.finish(300)
        finally:
            box.stop()
    assert rc == 0, show.text()
    assert show.said(f"generator: frames from {net.box_addr}:9310") == 1
    m = re.search(r"generator (\d+) frames, (\d+) errors", show.text())
    assert m and int(m.group(1)) > 10 and int(m.group(2)) == 0, show.text()
    frames = decode(out, (320, 180))
    assert frames[-1].std() > 2 and frames[-1].mean() > 10  # a picture made over there, not black
    assert box.said(f"a show from {net.show_addr} said hello") == 1
