"""The remote in a real browser: Debian's Chromium driven by selenium against `vj run --headless --web`
run as a performer starts it (the demo set with a scene graph, the seedling, the demo track), read back
the ways a control surface would: OSC's /vj/list, OSC out, liblo's oscsend, the show's own log."""

import json
import subprocess
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from vj.web.client import PageClient
from web_support import (LAPTOP, PHONE, LiveShow, chromium, emulate, graph_set, listed, oscsend, quit_browser,
                         vj_list, wait_page)
from helpers import wait_until


@pytest.fixture(scope="module")
def show(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web-show")
    s = LiveShow(graph_set(folder), folder / "state")
    s.state = folder / "state"
    yield s
    log = s.stop()
    assert "Traceback" not in log, log


@pytest.fixture(scope="module")
def browser():
    d = chromium(*LAPTOP)
    yield d
    quit_browser(d)


@pytest.fixture
def page(browser, show):
    """The page on a laptop-sized window, opened and live."""
    emulate(browser, LAPTOP, phone=False)
    browser.get(show.url)
    wait_page(browser, lambda d: d.find_element(By.ID, "conn").get_attribute("data-state") == "live", "a live socket")
    wait_page(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "input[type=range][data-param]"), "the faders")
    return browser


def fader(d, name: str):
    return d.find_element(By.CSS_SELECTOR, f"#params input[type=range][data-param='{name}']")


def test_a_fader_moved_on_the_page_moves_the_parameter(page, show):
    f = fader(page, "feedback.amount")
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", f)
    f.click()
    f.send_keys(Keys.END)  # the keyboard, as a screen reader's user moves it
    wait_until("the move in /vj/list", lambda: listed(show.osc_port, "/vj/param/feedback.amount") == pytest.approx(0.99))
    assert float(f.get_attribute("value")) == pytest.approx(0.99)
    # OSC out says it too (a TouchOSC surface beside the page follows), as the move of a hand
    wait_until("the move on OSC out", lambda: 0.99 in [round(v, 4) for v in show.osc_out.values("/vj/param/feedback.amount")])
    # and the live state --resume reads keeps it, as a knob's
    def moved_in_live_state() -> bool:  # the set's own live state, kept by its file (show/resume.py)
        return any(json.loads(live.read_text()).get("moved", {}).get("feedback.amount") == pytest.approx(0.99)
                   for live in (show.state / "live").glob("*.json"))

    wait_until("the move in the live state", moved_in_live_state)
    # a drag with the pointer: whatever value it lands on is the parameter's value
    z = fader(page, "feedback.zoom")
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", z)
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(page).move_to_element_with_offset(z, -z.size["width"] // 2 + 20, 0).click_and_hold() \
        .move_by_offset(z.size["width"] // 3, 0).release().perform()
    wait_until("the dragged value in /vj/list", lambda: listed(show.osc_port, "/vj/param/feedback.zoom") ==
               pytest.approx(float(z.get_attribute("value")), abs=1e-4) and float(z.get_attribute("value")) < 1.0)


def test_a_scene_pad_changes_the_scene_on_the_bar(page, show):
    oscsend(show.osc_port, "/vj/bpm", "f", 30)  # two seconds a beat: the move waits long enough to be seen
    wait_page(page, lambda d: d.find_element(By.ID, "bpm").text == "30.0", "the held tempo")
    pad = page.find_element(By.CSS_SELECTOR, ".pad[data-scene='burning']")
    wait_page(page, lambda d: d.find_element(By.ID, "bar").text.endswith("beat 1"), "a bar begun (6 s left in it)")
    pad.click()
    wait_page(page, lambda d: "waiting" in pad.get_attribute("class"), "the pad waiting for its bar")
    assert "burning comes on the next bar" in page.find_element(By.ID, "pending").text
    assert page.find_elements(By.CSS_SELECTOR, "#graph .node.next")  # the graph draws the move waiting
    wait_page(page, lambda d: pad.get_attribute("aria-pressed") == "true", "the pad lit", timeout=60)
    assert listed(show.osc_port, "/vj/scene") == "burning"
    node = page.find_element(By.CSS_SELECTOR, "#graph .node.now")
    assert node.text == "burning"
    ways = page.find_element(By.CSS_SELECTOR, "#graph .ways").text
    assert "→ calm" in ways and "after 64 bars" in ways and "→ storm" in ways and "midi.1.note.45" in ways
    page.find_element(By.ID, "lands").send_keys("now")
    page.find_element(By.CSS_SELECTOR, ".pad[data-scene='calm']").click()
    wait_until("the scene now", lambda: listed(show.osc_port, "/vj/scene") == "calm")
    oscsend(show.osc_port, "/vj/bpm", "f", 0)


def test_a_typed_prompt_arrives(page, show):
    field = page.find_element(By.CSS_SELECTOR, "textarea[data-prompt='1']")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    field.send_keys("blue {rings|squares} on white", Keys.ENTER)
    wait_until("the prompt in /vj/list", lambda: listed(show.osc_port, "/vj/prompt/1") in
               ("blue rings on white", "blue squares on white"))
    drawn = listed(show.osc_port, "/vj/prompt/1")
    card = page.find_element(By.CSS_SELECTOR, ".prompt[data-slot='1']")
    wait_page(page, lambda d: card.find_element(By.CSS_SELECTOR, ".drawn").text == drawn, "the drawn text on the page")
    assert field.get_attribute("value") == "blue {rings|squares} on white"
    wait_until("the prompt in the show log", lambda: any(json.loads(line).get("text") == drawn for line in
               max((show.state / "shows").glob("*.jsonl")).read_text().splitlines()))


def test_a_prompt_added_on_the_page_gets_its_card_and_every_weight_still_follows(page, show):
    field = page.find_element(By.ID, "prompt-new")
    field.send_keys("a {chrome|paper} moon", Keys.ENTER)
    weight = wait_page(page, lambda d: d.find_elements(By.CSS_SELECTOR, ".prompt[data-slot='3'] input[type=range]"
                                                       "[data-param='prompt.3.weight']"), "the third prompt's weight")[0]
    card = page.find_element(By.CSS_SELECTOR, ".prompt[data-slot='3']")
    assert card.find_element(By.CSS_SELECTOR, "textarea").get_attribute("value") == "a {chrome|paper} moon"
    assert weight.get_attribute("value") == "0"  # a prompt added live fades in from 0
    assert fader(page, "prompt.3.weight")  # and it is among every parameter
    oscsend(show.osc_port, "/vj/prompt/1/weight", "f", -1.5)  # the first card's weight, after the table grew
    first = page.find_element(By.CSS_SELECTOR, ".prompt[data-slot='1'] input[type=range][data-param='prompt.1.weight']")
    wait_page(page, lambda d: first.get_attribute("value") == "-1.5", "the first prompt's weight following")


def test_warnings_show_in_red_as_on_the_overlay(page, show):
    oscsend(show.osc_port, "/vj/param/master.level", "f", 0.5)
    box = page.find_element(By.ID, "warnings")
    wait_page(page, lambda d: "master fader at 50%" in box.text, "the overlay's warning on the page")
    assert box.value_of_css_property("color") == "rgba(255, 90, 90, 1)" and box.get_attribute("aria-live") == "assertive"
    oscsend(show.osc_port, "/vj/param/master.level", "f", 1.0)
    wait_page(page, lambda d: not box.is_displayed(), "the warning gone with its cause")


def test_a_change_made_over_osc_shows_on_the_page(page, show):
    oscsend(show.osc_port, "/vj/param/noise.walk", "f", 17)
    wait_page(page, lambda d: fader(d, "noise.walk").get_attribute("value") == "17", "the OSC move on the fader")
    number = page.find_element(By.CSS_SELECTOR, "[data-name='noise.walk'] input[type=number]")
    assert number.get_attribute("value") == "17"


def test_the_preview_shows_frames_that_change(page, show):
    img = page.find_element(By.ID, "preview")
    first = int(wait_page(page, lambda d: img.get_attribute("data-frame"), "a preview frame"))
    sample = """const img = arguments[0];
                if (!img.complete || !img.naturalWidth) return null;
                const c = document.createElement('canvas'); c.width = 32; c.height = 18;
                const g = c.getContext('2d'); g.drawImage(img, 0, 0, 32, 18);
                return Array.from(g.getImageData(0, 0, 32, 18).data);"""
    a = wait_page(page, lambda d: d.execute_script(sample, img), "a decoded preview frame")
    wait_page(page, lambda d: int(img.get_attribute("data-frame")) > first + 10, "later preview frames")
    b = wait_page(page, lambda d: d.execute_script(sample, img), "a later decoded frame")
    assert sum(a) > 32 * 18 * 40 and sum(b) > 32 * 18 * 40  # a picture, not black
    assert sum(abs(x - y) for x, y in zip(a, b)) / len(a) > 1.0  # and it moves


def test_two_pages_follow_each_other_and_a_reload_picks_up_the_state(page, show):
    first = page.current_window_handle
    page.switch_to.new_window("tab")
    emulate(page, PHONE, phone=True)
    page.get(show.url)
    wait_page(page, lambda d: d.find_element(By.ID, "conn").get_attribute("data-state") == "live", "the second page")
    page.find_element(By.ID, "tab-params").click()
    f = wait_page(page, lambda d: fader(d, "fx.kaleido.sides"), "the phone's faders")
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", f)  # above the tabs, as a thumb scrolls
    f.click()
    f.send_keys(Keys.HOME)
    wait_until("the phone's move in the show", lambda: listed(show.osc_port, "/vj/param/fx.kaleido.sides") == 2.0)
    page.switch_to.window(first)
    wait_page(page, lambda d: fader(d, "fx.kaleido.sides").get_attribute("value") == "2", "the other page's move")
    page.switch_to.window(page.window_handles[-1])
    page.close()  # a page that goes away
    page.switch_to.window(first)
    oscsend(show.osc_port, "/vj/param/fx.kaleido.zoom", "f", 2.5)  # moved while this page reloads
    page.refresh()
    wait_page(page, lambda d: fader(d, "fx.kaleido.zoom").get_attribute("value") == "2.5", "the state after a reload")


def test_a_page_comes_back_by_itself_when_the_control_process_is_killed(page, show):
    pid = _listener(show.web_port)
    subprocess.run(["kill", "-9", str(pid)], check=True)
    wait_page(page, lambda d: d.find_element(By.ID, "conn").get_attribute("data-state") == "lost", "the lost socket")
    wait_page(page, lambda d: d.find_element(By.ID, "conn").get_attribute("data-state") == "live",
              "the socket back (the supervisor starts the control process again)", timeout=60)
    f = fader(page, "fx.kaleido.amount")
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", f)
    f.click()
    f.send_keys(Keys.HOME)
    wait_until("a move after the restart", lambda: listed(show.osc_port, "/vj/param/fx.kaleido.amount") == 0.0)


def _listener(port: int) -> int:
    """The process listening on a TCP port (iproute2's ss)."""
    out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    return int(out.split("pid=")[1].split(",")[0])


def test_the_socket_survives_a_fuzzer_and_the_show_and_the_page_go_on(page, show):
    before = len(show.status_lines())
    frame0 = int(wait_page(page, lambda d: d.find_element(By.ID, "preview").get_attribute("data-frame"), "a frame"))
    fuzz = PageClient(show.url, preview=False)
    try:
        rubbish = ["{", "null", "[]" * 4000, '{"osc": "/vj/param/nope", "args": [1]}', '{"osc": "/vj/param/feedback.amount", '
                   '"args": [1e308, "x"]}', '{"osc": "/vj/scene", "args": [{"a": 1}]}', "\u0000\u00ff" * 100,
                   '{"osc": "/vj/prompt/1", "args": ["' + "{" * 3000 + '"]}', '{"ping": ' + "[" * 3000 + "]}"]
        for text in rubbish * 20:
            fuzz.send_text(text)
        t0 = time.monotonic()
        for second in range(3):  # a thousand messages a second, for three seconds
            fuzz.send_many([json.dumps({"osc": "/vj/param/noise.kick", "args": [(i % 200) / 100 - 1]})
                            for i in range(1000)])
            wait_until("the next second", lambda: time.monotonic() >= t0 + second + 1, every=0.02)
    finally:
        fuzz.close()
    huge = PageClient(show.url, preview=False)
    huge.send_text('{"osc": "/vj/prompt/1", "args": ["' + "y" * 100_000 + '"]}')
    huge.closed.wait(10)
    assert huge.close_code == 1009
    # the show goes on: it renders, answers OSC, the page is live and moves it
    wait_until("a status line after the fuzz", lambda: len(show.status_lines()) > before + 1, timeout=60,
               alive=show.proc)
    assert page.find_element(By.ID, "conn").get_attribute("data-state") == "live"
    wait_page(page, lambda d: int(d.find_element(By.ID, "preview").get_attribute("data-frame")) > frame0 + 10,
              "preview frames after the fuzz")
    f = fader(page, "feedback.rotate")
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", f)
    f.click()
    f.send_keys(Keys.HOME)
    wait_until("a page move after the fuzz", lambda: listed(show.osc_port, "/vj/param/feedback.rotate") == -10.0)
    assert "web " in show.status_lines()[-1]  # the pages, in the status line
    counts = {k: v for k, v in _status(show.osc_port).items() if k.startswith("web_")}
    assert counts["web_malformed"] >= 100 and counts["web_too_big"] >= 1 and counts["web_unknown"] >= 20


def _status(port: int) -> dict:
    import socket

    from pythonosc.osc_packet import OscPacket

    from vj.control.osc import build_message

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(10)
    s.sendto(build_message("/vj/status", []).dgram, ("127.0.0.1", port))
    got = {}
    while True:
        for m in OscPacket(s.recvfrom(65536)[0]).messages:
            if m.message.address == "/vj/status/end":
                s.close()
                return got
            k, v = m.message.params
            got[k] = v


@pytest.mark.parametrize("size,phone", [(PHONE, True), (LAPTOP, False)], ids=["phone", "laptop"])
def test_the_layout_fits_a_phone_and_a_laptop(browser, show, tmp_path, size, phone):
    emulate(browser, size, phone)
    browser.get(show.url)
    wait_page(browser, lambda d: d.find_element(By.ID, "preview").get_attribute("data-frame"), "a preview frame")
    js = browser.execute_script
    assert js("return document.documentElement.scrollWidth") <= size[0]  # nothing wider than the screen
    for r in browser.find_elements(By.CSS_SELECTOR, "input[type=range][data-param]"):  # every fader is labelled
        assert js("return arguments[0].labels.length", r) == 1
    if phone:  # one section at a time, the tabs under the thumb, pads big enough for one
        tabs = browser.find_element(By.CSS_SELECTOR, ".tabs").rect
        assert tabs["y"] + tabs["height"] == pytest.approx(size[1], abs=1) and tabs["height"] >= 44
        assert browser.find_element(By.CSS_SELECTOR, ".pad").rect["height"] >= 44
        assert not browser.find_element(By.ID, "params").is_displayed()
    else:  # three columns side by side, the parameters beside the picture
        preview, pads, params = (browser.find_element(By.CSS_SELECTOR, s).rect for s in ("#preview", "#pads", "#params"))
        assert preview["x"] < pads["x"] < params["x"] and params["y"] < 200
        assert not browser.find_element(By.CSS_SELECTOR, ".tabs").is_displayed()
    browser.save_screenshot(str(tmp_path / f"remote-{'phone' if phone else 'laptop'}.png"))
