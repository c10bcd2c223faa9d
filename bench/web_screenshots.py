"""The remote's screenshots in docs/: a live show (`vj run --headless --web`, the demo set with a scene
graph, the seedling, the demo track) photographed in Debian's Chromium as a phone (390x844) and as a
laptop (1366x768) show it, a scene waiting for its bar.

    .venv/bin/python bench/web_screenshots.py [--out docs] [--set SET.toml]

Needs chromium and chromium-driver (make setup installs them). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from vj.bench.web import chromium, demo_with_graph

ROOT = Path(__file__).resolve().parent.parent


def _start(set_path: Path) -> tuple[subprocess.Popen, list[str]]:
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    proc = subprocess.Popen([sys.executable, "-m", "vj", "run", str(set_path), "--headless", "--web", "127.0.0.1:0",
                             "--osc-port", "0", "--audio", str(ROOT / "sets" / "demo-beat.ogg"), "--audio-loop",
                             "--no-monitor", "--state", "none", "--seed", "11", "--duration", "600"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    lines: list[str] = []
    threading.Thread(target=lambda: [lines.append(x.rstrip()) for x in proc.stdout], daemon=True).start()
    return proc, lines


def _found(lines: list[str], pattern: str, proc: subprocess.Popen, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(lines):
            m = re.search(pattern, line)
            if m:
                return m.group(1)
        if proc.poll() is not None:
            raise SystemExit("the show ended:\n" + "\n".join(lines))
        time.sleep(0.2)
    raise SystemExit(f"no {pattern!r} in the show's log")


def _wait(driver, js: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not driver.execute_script(js):
        if time.monotonic() > deadline:
            raise SystemExit(f"the page never had: {js}")
        time.sleep(0.1)


def shoot(driver, url: str, out: Path, name: str, size: tuple[int, int], phone: bool) -> Path:
    from selenium.webdriver.common.by import By

    w, h = size
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": w, "height": h, "deviceScaleFactor": 2 if phone else 1, "mobile": phone})
    driver.get(url)
    _wait(driver, "return document.getElementById('preview').dataset.frame > 0 && "
                  "document.querySelectorAll('#graph .node').length > 0")
    driver.find_element(By.ID, "lands").send_keys("on the bar")
    _wait(driver, "return document.getElementById('bar').textContent.endsWith('beat 1')")  # a bar just begun
    driver.find_element(By.CSS_SELECTOR, ".pad[data-scene='storm']").click()  # a move waiting for its bar
    _wait(driver, "return document.querySelector('.pad.waiting') !== null")
    time.sleep(0.6)  # a few more preview frames and meters after the click
    path = out / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--set", type=Path, help="a set file (default: the demo set with a scene graph)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vj-shots-"))
    proc, lines = _start(args.set or demo_with_graph(tmp))
    driver = None
    try:
        url = _found(lines, r"web: the remote is at (http://\S+)", proc)
        osc_port = _found(lines, r"OSC: listening on 127\.0\.0\.1:(\d+)", proc)
        _found(lines, r"(scene calm)", proc)
        subprocess.run(["oscsend", "127.0.0.1", osc_port, "/vj/bpm", "f", "40"], check=True)  # a bar is 6 s
        driver = chromium(str(tmp / "profile"), 1366, 768)
        for name, size, phone in (("web-phone", (390, 844), True), ("web-laptop", (1366, 768), False)):
            subprocess.run(["oscsend", "127.0.0.1", osc_port, "/vj/scene", "ss", "calm", "now"], check=True)
            print(shoot(driver, url, args.out, name, size, phone))
    finally:
        if driver is not None:
            driver.quit()
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
