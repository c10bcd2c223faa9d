"""Messages in one style: what the show refuses is said in words (`prompt 5 "blue dots" refused: ...`),
never as a Python tuple. OSC into a running `vj run`, its terminal read. (A length of one is singular:
"1 bar" in the show log, tests/test_graph_after.py.)"""

import os
import subprocess
import sys
import threading

from helpers import ROOT, wait_until
from test_osc_peers import oscsend
from test_resume import free_udp_port


def test_a_refused_osc_prompt_is_said_in_words(tmp_path):
    port = free_udp_port()
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    show = subprocess.Popen([sys.executable, "-m", "vj", "run", "demo", "--headless", "--audio", "none", "--model",
                             "seedling", "--size", "160x96", "--osc-port", str(port), "--state", "none"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(iter(show.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        wait_until("the show playing", lambda: any("playing demo" in s for s in said), timeout=240, alive=show)
        oscsend(port, "/vj/prompt/5", "s", "blue dots")  # the demo has two prompts
        wait_until("the refusal", lambda: any("refused" in s for s in said), timeout=60, alive=show)
    finally:
        show.terminate()
        show.wait(60)
        reader.join(10)
    (line,) = [s.strip() for s in said if "refused" in s]
    assert line == 'vj: osc: prompt 5 "blue dots" refused: prompt slot 5: there are 2 (add one at 3)', line
    assert show.returncode == 0
