"""The remote's server as a script meets it: the real control process serving the page's socket
(aiohttp), a page client in Python (vj/web/client.py), OSC from liblo's oscsend, the show's feed
writing its view; a test "frame" is what the engine does for the remote each frame (pull the
controls, the feed's hook). The browser itself: test_web_browser.py."""

import json
import re
import time
import urllib.error
import urllib.request
from types import MappingProxyType

import aiohttp
import numpy as np
import pytest

from vj import assemble
from vj.control.process import ControlProcess
from vj.core.errors import VJError
from vj.core.snapshot import Snapshot
from vj.resources import find_set
from vj.show.log import ShowLog
from vj.show.setfile import load_set
from vj.web import access, protocol
from vj.web.client import PageClient
from vj.web.feed import WebFeed, preview_size
from vj.web.server import WebConfig
from web_support import oscsend, vj_list


TOKEN = "t0k3n-for-the-tests-only"


class Rig:
    """The demo set's controls, the control process (OSC and the remote), the show's feed."""

    def __init__(self, token: str | None = None, journal=None) -> None:
        self.c = assemble.build_controls(load_set(find_set("demo")), 1, journal=journal)
        self.feed = WebFeed(self.c, "demo", 10.0, 160)
        self.proc = ControlProcess(self.c, ("127.0.0.1", 0, ()), None,
                                   web=WebConfig("127.0.0.1", 0, token, self.feed.view.name))
        self.proc.start()
        self.c.listen_to(self.proc)
        self.osc_port = self.proc.info.osc[1]
        self.port = self.proc.info.web[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.index = 0
        self.pages: list[PageClient] = []

    def frame(self) -> None:
        self.c.apply_pending()
        snap = Snapshot(self.index, time.monotonic(), MappingProxyType(dict(self.c.params.values())),
                        tuple(self.c.prompts), self.c.seed)
        self.feed.frame(snap)
        self.index += 1

    def frames_until(self, ok, timeout: float = 30.0, what: str = "it") -> None:
        deadline = time.monotonic() + timeout
        while not ok():
            assert time.monotonic() < deadline, f"no {what} within {timeout:g} s"
            self.frame()
            time.sleep(0.005)

    def page(self, **kw) -> PageClient:
        p = PageClient(self.url, **kw)
        self.pages.append(p)
        self.frames_until(lambda: p.state is not None and p.specs, what="a page's first state")
        return p

    def counters(self) -> dict:
        return self.proc.store.counter_dict()

    def stop(self) -> None:
        for p in self.pages:
            p.close()
        self.proc.stop()
        self.feed.close()


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.stop()


# -- the page is built from the parameter table ---------------------------------------------------------------
def test_the_page_gets_every_parameter_the_osc_listing_has_with_its_range_and_value(rig):
    page = rig.page()
    listed = {a[len("/vj/param/"):]: v for a, v in vj_list(rig.osc_port).items()
              if a.startswith("/vj/param/") and not a.endswith("/norm")}
    assert set(page.specs) == set(listed) and len(listed) > 20
    for name, (types, lo, hi, value) in listed.items():
        spec = page.specs[name]
        assert (spec["lo"], spec["hi"]) == pytest.approx((lo, hi), rel=1e-6), name
        assert page.values[name] == pytest.approx(value, rel=1e-5, abs=1e-9), name
    # and the state: scenes, prompts with their templates and weights, names for the modulated values
    assert page.state["scenes"] == ["calm", "storm", "drowned", "burning"]
    assert [p["template"] for p in page.state["prompts"]] == [t.text for t in rig.c.templates]
    assert page.state["prompts"][1]["weight"] == "prompt.2.weight" and not page.state["prompts"][1]["fixed"]
    rig.frames_until(lambda: set(page.live) == set(listed), what="every modulated value")


def test_a_parameter_declared_live_gets_its_control_on_every_page(rig):
    page = rig.page()
    assert "prompt.3.weight" not in page.specs
    page.osc("/vj/prompt/3", "a {cathedral|forest} of moths")
    rig.frames_until(lambda: "prompt.3.weight" in page.specs and len(page.state["prompts"]) == 3,
                     what="the new prompt's weight on the page")
    assert page.state["prompts"][2]["template"] == "a {cathedral|forest} of moths"
    page.osc("/vj/prompt/3/weight", 0.8)
    rig.frames_until(lambda: rig.c.params.target("prompt.3.weight") == pytest.approx(0.8), what="its weight moved")


# -- moves from the page are a performer's moves --------------------------------------------------------------
def test_a_page_move_holds_the_parameter_against_its_routes_and_is_logged_and_kept(tmp_path):
    journal = ShowLog.new(tmp_path, "demo", time.monotonic)
    r = Rig(journal=journal)
    try:
        page = r.page()
        page.osc("/vj/param/feedback.zoom", 1.1)  # the demo set routes the bass to it
        r.frames_until(lambda: r.c.params.target("feedback.zoom") == pytest.approx(1.1), what="the page's move")
        assert r.c.params.held("feedback.zoom")  # routes yield to a hand, as for OSC and MIDI
        assert "feedback.zoom" in r.c.moved  # what --resume keeps
        page.osc("/vj/param/noise.walk/norm", 0.5)
        r.frames_until(lambda: r.c.params.target("noise.walk") == pytest.approx(30.0), what="a /norm move")
    finally:
        r.stop()
        journal.close()
    moves = [json.loads(line) for line in journal.path.read_text().splitlines()]
    moves = [m for m in moves if m["kind"] == "move"]
    assert {(m["name"], m["source"]) for m in moves} >= {("feedback.zoom", "web"), ("noise.walk", "web")}


def test_scenes_prompts_tempo_and_seed_from_a_page_reach_the_show(rig):
    page = rig.page()
    page.osc("/vj/scene", "storm")
    rig.frames_until(lambda: rig.c.scene == "storm", what="the scene")
    rig.frames_until(lambda: page.state["scene"] == "storm" and page.values["noise.walk"] == 12.0,
                     what="the scene and its values on the page")
    page.osc("/vj/prompt/1", "glowing {green|teal} rings")
    page.osc("/vj/seed", 4242)
    rig.frames_until(lambda: rig.c.seed == 4242 and rig.c.templates[0].text == "glowing {green|teal} rings",
                     what="the prompt and the seed")
    rig.frames_until(lambda: page.state["seed"] == 4242 and page.state["prompts"][0]["text"] in
                     ("glowing green rings", "glowing teal rings"), what="the drawn prompt on the page")
    page.osc("/vj/list")  # a script may ask what OSC's listing says, over the socket
    page.wait(lambda p: p.replies, what="the listing's reply")
    assert ["/vj/list/end", []] == page.replies[0][-1]


# -- the page follows moves made elsewhere; several pages; going and coming back ------------------------------
def test_every_page_follows_moves_made_over_osc(rig):
    a, b = rig.page(), rig.page()
    oscsend(rig.osc_port, "/vj/param/noise.walk", "f", 17)
    for page in (a, b):
        page.wait(lambda p: p.values.get("noise.walk") == 17.0, what="the OSC move on every page")
    oscsend(rig.osc_port, "/vj/scene", "s", "drowned")
    rig.frames_until(lambda: a.state["scene"] == "drowned" and b.state["scene"] == "drowned", what="the scene")
    a.wait(lambda p: p.values.get("feedback.zoom") == pytest.approx(0.97), what="the scene's values")


def test_a_page_that_goes_away_leaves_nothing_behind_and_one_that_returns_picks_up(rig):
    a = rig.page()
    rig.frames_until(lambda: rig.feed.view.pages() == 1, what="one page counted")
    a.close()
    rig.frames_until(lambda: rig.feed.view.pages() == 0, what="the page gone")
    oscsend(rig.osc_port, "/vj/param/feedback.rotate", "f", -3.5)  # moved while no page looks
    rig.frames_until(lambda: rig.c.params.target("feedback.rotate") == -3.5, what="the move")
    b = rig.page()
    assert b.values["feedback.rotate"] == -3.5  # in its first message, not only when it moves again
    assert rig.counters()["web_pages_opened"] == 2


# -- bad input: one line and a count, never a crash ----------------------------------------------------------------
BAD = [  # (what a page sends, the counter it lands in)
    ("not json at all", "web_malformed"), ("[1, 2, 3]", "web_malformed"), ('{"osc": 5}', "web_malformed"),
    ('{"osc": "/vj/param/feedback.amount", "args": [NaN]}', "web_malformed"),
    ('{"osc": "/vj/param/feedback.amount", "args": [1e999]}', "web_malformed"),
    ('{"osc": "/vj/param/feedback.amount", "args": [' + "9" * 30 + ']}', "web_malformed"),
    ('{"osc": "/vj/param/feedback.amount", "args": [true]}', "web_malformed"),
    ('{"osc": "/vj/param/feedback.amount", "args": [[0.5]]}', "web_malformed"),
    ('{"osc": "/vj/param/feedback.amount", "args": "0.5"}', "web_malformed"),
    ('{"osc": "/vj/x\\u0000y", "args": []}', "web_malformed"), ("[" * 5000 + "]" * 5000, "web_malformed"),
    ('{"preview": "yes"}', "web_malformed"), ('{"hello": 1}', "web_malformed"),
    ('{"osc": "/vj/param/feedback.amout", "args": [0.5]}', "web_unknown"),
    ('{"osc": "/vj/nothing/here", "args": []}', "web_unknown"),
    ('{"osc": "/vj/param/feedback.amount", "args": ["loud"]}', "web_bad_args"),
    ('{"osc": "/vj/scene", "args": ["nowhere"]}', "web_bad_args"),
    ('{"osc": "/vj/prompt/1", "args": ["an {unclosed brace"]}', "web_bad_args"),
    ('{"osc": "/vj/bpm", "args": [9000]}', "web_bad_args"),
    ('{"osc": "/vj/param/feedback.amount", "args": [7.5]}', "web_clamped"),
]


@pytest.fixture
def said_rig(capfd):
    """A rig whose control process was started while capfd captures (its child's lines are read)."""
    r = None

    def start() -> Rig:
        nonlocal r
        r = Rig()
        return r
    yield start
    if r is not None:
        r.stop()


def test_bad_messages_are_dropped_counted_and_said_and_the_page_goes_on(capfd, said_rig):
    rig = said_rig()  # started in the test's body: capfd is what the control process inherits
    page = rig.page()
    for text, counter in BAD:
        before = rig.counters().get(counter, 0)
        page.send_text(text)
        page.send({"ping": 1})  # the socket still answers: it was not closed for it
        rig.frames_until(lambda: rig.counters().get(counter, 0) > before, what=f"{counter} for {text[:40]!r}")
    page.wait(lambda p: len(p.errors) >= 1, what="an error reply")
    rig.frames_until(lambda: page.values.get("feedback.amount") == 0.99 and rig.c.params.target("feedback.amount") == 0.99,
                     what="the value clamped to its range, on the page and in the show")
    for n in rig.c.params.names():  # nothing reached the show outside its range
        assert rig.c.params.spec(n).lo <= rig.c.params.target(n) <= rig.c.params.spec(n).hi, n
    page.osc("/vj/param/feedback.amount", 0.3)  # and a good one after all that
    rig.frames_until(lambda: rig.c.params.target("feedback.amount") == pytest.approx(0.3), what="a good move")
    said = capfd.readouterr().err
    assert re.search(r"web: a message from 127\.0\.0\.1:\d+ dropped: not JSON", said)
    assert "web: /vj/param/feedback.amout from 127.0.0.1" in said and "did you mean 'feedback.amount'" in said
    assert said.count("dropped: not JSON") < 5  # a kind of fault is said once per 5 s, with its count


def test_a_huge_message_closes_that_socket_only_and_a_flood_is_cut_to_the_budget(capfd, said_rig):
    rig = said_rig()
    a, b = rig.page(), rig.page()
    a.send_text('{"osc": "/vj/prompt/1", "args": ["' + "x" * (protocol.MAX_MESSAGE + 10) + '"]}')
    a.closed.wait(10)
    assert a.closed.is_set() and a.close_code == 1009  # "message too big", as the WebSocket RFC says
    rig.frames_until(lambda: rig.counters().get("web_too_big", 0) == 1, what="the count")
    flood = [json.dumps({"osc": "/vj/param/noise.walk", "args": [i % 60]}) for i in range(6000)]
    b.send_many(flood)
    b.send({"ping": "after"})
    rig.frames_until(lambda: rig.counters().get("web_flood", 0) > 0, what="the flood counted")
    tries = []

    def moved_after() -> bool:  # the budget fills again within a second: a move sent then is taken
        if len(tries) % 50 == 0:
            b.osc("/vj/param/noise.walk", 44.0)
        tries.append(1)
        return rig.c.params.target("noise.walk") == 44.0
    rig.frames_until(moved_after, what="a move after the flood")
    assert "messages or 1024 KB a second; the rest is dropped" in capfd.readouterr().err


# -- who may open it ---------------------------------------------------------------------------------------------
def get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_with_a_token_nothing_is_shown_or_moved_without_it():
    r = Rig(token=TOKEN)
    try:
        status, _, body = get(r.url)
        assert status == 401 and b"needs its token" in body
        assert get(r.url + "static/app.js")[0] == 401 and get(r.url + "?token=wrong")[0] == 401
        with pytest.raises(Exception):
            PageClient(r.url)  # the socket too
        with pytest.raises(Exception):
            PageClient(r.url, token="wrong" * 5)
        status, headers, body = get(r.url + f"?token={TOKEN}")
        assert status == 200 and b"<title>" in body
        assert f"vj_token={TOKEN}" in headers["Set-Cookie"] and "HttpOnly" in headers["Set-Cookie"]
        assert get(r.url + "static/app.js", {"Cookie": f"vj_token={TOKEN}"})[0] == 200
        assert get(r.url + "static/app.js", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
        page = r.page(token=TOKEN)
        page.osc("/vj/param/feedback.amount", 0.25)
        r.frames_until(lambda: r.c.params.target("feedback.amount") == 0.25, what="a move with the token")
        assert r.counters()["web_refused"] >= 5
    finally:
        r.stop()


def test_other_sites_pages_are_kept_out_of_a_loopback_remote(rig):
    assert get(rig.url, {"Host": "evil.example:80"})[0] == 421  # a name rebound to 127.0.0.1
    assert get(rig.url, {"Host": f"localhost:{rig.port}"})[0] == 200
    with pytest.raises(aiohttp.WSServerHandshakeError):
        import asyncio

        async def open_from(origin):
            async with aiohttp.ClientSession() as s:
                async with s.ws_connect(rig.url + "ws", headers={"Origin": origin}):
                    pass
        asyncio.run(open_from("http://evil.example"))
    status, headers, _ = get(rig.url)
    assert "default-src 'self'" in headers["Content-Security-Policy"] and headers["Referrer-Policy"] == "no-referrer"


def test_addresses_tokens_and_where_to_open_the_page():
    assert access.parse_address("8080") == ("127.0.0.1", 8080)
    assert access.parse_address("0.0.0.0:8080") == ("0.0.0.0", 8080)
    assert access.parse_address("[::1]:0") == ("::1", 0)
    for bad in ("", "host:", "x:99999", "eighty"):
        with pytest.raises(VJError, match=r"--web .*\[HOST:\]PORT"):
            access.parse_address(bad)
    assert access.token_for("127.0.0.1", None) is None and access.token_for("localhost", None) is None
    assert len(access.token_for("0.0.0.0", None)) >= 20 and access.token_for("::1", "mine-mine-mine-mine") == "mine-mine-mine-mine"
    assert access.token_for("0.0.0.0", None) != access.token_for("0.0.0.0", None)  # fresh each show
    assert access.page_urls("127.0.0.1", 8080, None) == ["http://127.0.0.1:8080/"]
    assert access.page_urls("192.168.1.20", 8080, "abc") == ["http://192.168.1.20:8080/?token=abc"]
    assert access.origin_ok(None, "h:1") and access.origin_ok("http://h:1", "h:1") and not access.origin_ok("http://x:1", "h:1")
    assert access.host_ok("127.0.0.1:9", "127.0.0.1", None) and not access.host_ok("evil:9", "127.0.0.1", None)
    assert access.host_ok("evil:9", "127.0.0.1", "tok")  # with a token, the token is the check


def test_the_set_file_and_the_command_line_say_where_the_remote_listens(tmp_path):
    from vj.core.errors import ConfigError

    base = (tmp_path / "base.toml")
    base.write_text('[show]\nname = "w"\n[[prompt]]\ntext = "x"\n[web]\nport = 8091\nhost = "0.0.0.0"\npreview_fps = 3\n')
    web = load_set(base).web
    assert (web.on, web.port, web.host, web.preview_fps, web.token) == (True, 8091, "0.0.0.0", 3.0, None)
    assert not load_set(find_set("demo")).web.on
    for bad, why in (("token = \"short\"", "token must be 16"), ("port = 0", "port"), ("preview_fps = 99", "preview_fps"),
                     ("colour = 1", "unknown key 'colour'")):
        (tmp_path / "bad.toml").write_text(f'[show]\nname = "w"\n[web]\n{bad}\n')
        with pytest.raises(ConfigError, match=why):
            load_set(tmp_path / "bad.toml")


# -- the preview: the program image, made off the render thread ----------------------------------------------------
@pytest.mark.parametrize("read_back", [False, True], ids=["drawn small on the GPU", "an output's read-back"])
def test_the_preview_is_the_program_image_the_right_way_up(gl_ctx, rig, read_back):
    from PIL import Image
    import io

    from helpers import red_over_blue
    from vj.output.base import ProgramFrame

    comp = red_over_blue(gl_ctx, (320, 180))
    page = rig.page(preview=True)
    rig.frames_until(lambda: rig.feed.view.preview_wanted(), what="the server asking for the preview")
    frames = 0

    def present() -> bool:
        nonlocal frames
        frame = ProgramFrame(comp, float(frames), frames)
        if read_back:
            frame.rgba()  # as a recording would, before the feed
        rig.feed.present(frame)
        rig.frame()
        frames += 1
        return bool(page.previews)

    rig.frames_until(present, what="a preview frame")
    index, t, wall, mono, jpeg = page.preview_frames()[-1]
    img = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")).astype(int)
    assert img.shape[:2] == (90, 160) and preview_size((320, 180), 160) == (160, 90)
    top, bottom = img[:30].mean((0, 1)), img[-30:].mean((0, 1))
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60  # red over blue, as drawn
    assert 0 <= time.time() - wall < 30 and index < frames
    assert (rig.feed.from_outputs > 0) == read_back
    comp.close()


def test_a_midi_knob_meets_a_value_a_page_moved_before_it_moves_it_again(tmp_path):
    """Soft takeover: the control process's own pieces (its store, its sink, the server, a MIDI input
    whose port is a double, as in test_control), a page moving the parameter the knob holds."""
    from vj.control.osc import OscRouter
    from vj.control.shared import SharedStore
    from vj.control.store_sink import StoreSink
    from vj.web.server import WebServer
    from vj.web.view import ViewStore
    from test_control import cc, midi_port

    c = assemble.build_controls(load_set(find_set("demo")), 1)
    store, view = SharedStore(), ViewStore()
    names = c.params.names()
    for i, n in enumerate(names):
        store.target[i] = c.params.target(n)
    sink = StoreSink(store, lambda msg: None, tuple((i, c.params.spec(n)) for i, n in enumerate(names)),
                     tuple(c.sources), tuple(c.scene_names()), tuple(c.prompts), 1)
    server = WebServer(WebConfig("127.0.0.1", 0, None, view.name), sink, OscRouter(sink).handle)
    server.start()
    page = None
    try:
        midi, port = midi_port(sink, '[[control]]\ntype="cc"\nnumber=0\ntarget="feedback.amount"\nrange=[0.0, 1.0]',
                               tmp_path)
        midi._handle(port, cc(0, 70))  # 0.551: at the value (0.55), the knob has it
        assert sink.params.target("feedback.amount") == pytest.approx(70 / 127)
        page = PageClient(f"http://127.0.0.1:{server.address[1]}/", preview=False)
        page.osc("/vj/param/feedback.amount", 0.9)
        page.wait(lambda p: p.values.get("feedback.amount") == 0.9, what="the page's move in the store")
        midi._handle(port, cc(0, 75))  # the knob moves on from where it was: it must meet 0.9 first
        assert sink.params.target("feedback.amount") == 0.9 and store.counter_dict()["midi_pickup_wait"] == 1
        midi._handle(port, cc(0, 115))  # within 3 % of 0.9: picked up
        assert sink.params.target("feedback.amount") == pytest.approx(115 / 127)
        page.wait(lambda p: p.values.get("feedback.amount") == pytest.approx(115 / 127, abs=1e-5),
                  what="the knob's value on the page")
    finally:
        if page is not None:
            page.close()
        server.stop()
        store.close()
        view.close()
