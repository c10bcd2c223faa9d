// démontage remote: the page. It is built from the show's parameter table (the one /vj/list answers
// from), so every parameter has its fader without anyone writing one. Every move goes out as an OSC
// address over the socket ({"osc": "/vj/param/feedback.amount", "args": [0.7]}) and takes the same
// path as OSC and MIDI; what the show does comes back as it happens. No framework, no build step.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const GROUPS = [["prompt", "prompts"], ["noise", "noise"], ["input", "input"], ["feedback", "feedback"],
    ["layer", "layers"], ["fx", "effects"], ["master", "master"], ["mixer", "mixer"], ["lora", "LoRA"],
    ["generator", "generator"]];
  const GENERATOR = new Set(["gen", "gan", "chaos", "strength"]);
  const GRAB_MS = 400;  // after a hand lets go of a fader, the show's value takes it over again
  const SEND_MS = 16;   // a dragged fader sends at most this often (its newest value)
  const token = new URLSearchParams(location.search).get("token");

  const show = {
    specs: new Map(),     // name -> {name, lo, hi, default, unit, doc}
    values: {},           // name -> what a hand last asked (the fader's value)
    live: {},             // name -> its value in the last snapshot (after routes)
    rows: new Map(),      // name -> [row, ...] (a prompt's weight has two)
    grabbed: new Map(),   // name -> until when a hand holds it here (ms), or Infinity while held
    outgoing: new Map(),  // name -> value to send
    state: null, graphKey: "", frames: 0, previewTimes: [],
  };
  let ws = null, retry = 500, sendTimer = 0, uid = 0, previewUrl = null;

  // -- the socket -----------------------------------------------------------------------------------------------
  function connect() {
    const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws` +
      (token ? `?token=${encodeURIComponent(token)}` : "");
    setConn("connecting", "connecting");
    ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => { retry = 500; setConn("live", "live"); send({ preview: $("preview-on").checked }); };
    ws.onmessage = (ev) => (typeof ev.data === "string" ? take(JSON.parse(ev.data)) : takePreview(ev.data));
    ws.onclose = () => {
      setConn("lost", "reconnecting…");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 5000);
    };
  }

  function setConn(state, text) {
    const c = $("conn");
    c.dataset.state = state;
    c.textContent = text;
    document.body.classList.toggle("offline", state !== "live");
    const b = $("banner");
    b.hidden = state !== "lost";
    b.textContent = "The show is out of reach; trying again. (It plays on meanwhile.)";
  }

  function send(obj) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
  }

  function osc(address, ...args) { send({ osc: address, args }); }

  function take(m) {
    if (m.type === "hello") { buildParams(m.params); setValues(m.values); }
    else if (m.type === "params") buildParams(m.params);
    else if (m.type === "state") takeState(m.state);
    else if (m.type === "tick") takeTick(m);
    else if (m.type === "error") say(`The show did not take that: ${m.message}`);
  }

  function say(text) {
    const b = $("banner");
    b.hidden = false;
    b.textContent = text;
    clearTimeout(say.t);
    say.t = setTimeout(() => { if (ws && ws.readyState === WebSocket.OPEN) b.hidden = true; }, 4000);
  }

  // -- parameters -------------------------------------------------------------------------------------------------
  function groupOf(name) {
    const head = name.split(".")[0];
    if (GENERATOR.has(head)) return "generator";
    const known = GROUPS.find(([key]) => key === head);
    return known ? known[1] : head;
  }

  function shortLabel(name) {
    const parts = name.split(".");
    return parts.length > 1 ? parts.slice(1).join(" · ") : name;
  }

  function fmt(v) {
    const a = Math.abs(v);
    const digits = a >= 100 ? 1 : a >= 10 ? 2 : 3;
    return String(Number(v.toFixed(digits)));
  }

  function makeRow(spec) {
    const id = `p${++uid}`;
    const row = document.createElement("div");
    row.className = "param";
    row.dataset.name = spec.name;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.innerHTML = '<span class="pname"></span><span class="pfull"></span>';
    label.querySelector(".pname").textContent = shortLabel(spec.name);
    label.querySelector(".pfull").textContent = spec.name;
    const value = document.createElement("div");
    value.className = "value";
    const num = document.createElement("input");
    Object.assign(num, { type: "number", className: "num", min: spec.lo, max: spec.hi, step: "any" });
    num.setAttribute("aria-label", `${spec.name} value`);
    num.inputMode = "decimal";
    const unit = document.createElement("span");
    unit.className = "unit";
    unit.textContent = spec.unit || "";
    value.append(num, unit);
    const fader = document.createElement("div");
    fader.className = "fader";
    const range = document.createElement("input");
    Object.assign(range, { type: "range", id, min: spec.lo, max: spec.hi, step: "any" });
    range.dataset.param = spec.name;
    const live = document.createElement("div");
    live.className = "live";
    live.setAttribute("aria-hidden", "true");
    const tick = document.createElement("i");
    live.appendChild(tick);
    fader.append(range, live);
    const doc = document.createElement("p");
    doc.className = "doc";
    doc.id = `${id}-doc`;
    doc.textContent = spec.doc || "";
    doc.title = spec.doc || "";
    range.setAttribute("aria-describedby", doc.id);
    row.append(label, value, fader, doc);
    const r = { row, range, num, tick, spec };
    wireRow(r);
    return r;
  }

  function wireRow(r) {
    const name = r.spec.name;
    const hold = () => show.grabbed.set(name, Infinity);
    const letGo = () => show.grabbed.set(name, performance.now() + GRAB_MS);
    r.range.addEventListener("pointerdown", hold);
    r.range.addEventListener("keydown", hold);
    r.range.addEventListener("pointerup", letGo);
    r.range.addEventListener("pointercancel", letGo);
    r.range.addEventListener("keyup", letGo);
    r.range.addEventListener("blur", letGo);
    r.range.addEventListener("input", () => {
      hold();
      const v = parseFloat(r.range.value);
      show.values[name] = v;
      paint(name, v, r);
      queue(name, v);
    });
    r.range.addEventListener("change", letGo);
    r.num.addEventListener("change", () => {
      let v = parseFloat(r.num.value);
      if (!Number.isFinite(v)) { paint(name, show.values[name], null); return; }
      v = Math.min(r.spec.hi, Math.max(r.spec.lo, v));
      show.values[name] = v;
      letGo();
      paint(name, v, null);
      queue(name, v);
    });
  }

  function queue(name, v) {
    show.outgoing.set(name, v);
    if (!sendTimer) sendTimer = setTimeout(flush, SEND_MS);
  }

  function flush() {
    sendTimer = 0;
    for (const [name, v] of show.outgoing) osc(`/vj/param/${name}`, v);
    show.outgoing.clear();
  }

  function paint(name, v, except) {
    for (const r of show.rows.get(name) || []) {
      if (r !== except) r.range.value = String(v);
      if (document.activeElement !== r.num) r.num.value = fmt(v);
      // the fill runs from zero where the range spans it (a bipolar fader), else from the bottom
      const pct = (x) => (r.spec.hi > r.spec.lo ? ((x - r.spec.lo) / (r.spec.hi - r.spec.lo)) * 100 : 0);
      const zero = r.spec.lo < 0 && r.spec.hi > 0 ? pct(0) : 0;
      r.range.style.setProperty("--from", `${Math.min(zero, pct(v)).toFixed(2)}%`);
      r.range.style.setProperty("--to", `${Math.max(zero, pct(v)).toFixed(2)}%`);
    }
  }

  function paintLive(name, v) {
    for (const r of show.rows.get(name) || []) {
      const span = r.spec.hi - r.spec.lo;
      r.tick.style.left = `${span > 0 ? Math.min(100, Math.max(0, ((v - r.spec.lo) / span) * 100)) : 0}%`;
    }
  }

  function addRow(name, r) {
    if (!show.rows.has(name)) show.rows.set(name, []);
    show.rows.get(name).push(r);
    if (name in show.values) paint(name, show.values[name], null);
    if (name in show.live) paintLive(name, show.live[name]);
  }

  function buildParams(specs) {
    show.specs = new Map(specs.map((s) => [s.name, s]));
    show.rows = new Map();
    const groups = new Map();
    for (const s of specs) {
      const g = groupOf(s.name);
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(s);
    }
    const order = GROUPS.map(([, label]) => label);
    const names = [...groups.keys()].sort((a, b) => rank(order, a) - rank(order, b) || a.localeCompare(b));
    const box = $("groups");
    const open = new Set([...box.querySelectorAll("details[open]")].map((d) => d.dataset.group));
    box.textContent = "";
    for (const g of names) {
      const details = document.createElement("details");
      details.dataset.group = g;
      details.open = open.size ? open.has(g) : true;
      const summary = document.createElement("summary");
      summary.innerHTML = "<span></span>";
      summary.firstChild.textContent = g;
      const small = document.createElement("small");
      small.textContent = String(groups.get(g).length);
      summary.firstChild.appendChild(small);
      details.appendChild(summary);
      for (const s of groups.get(g)) {
        const r = makeRow(s);
        details.appendChild(r.row);
        addRow(s.name, r);
      }
      box.appendChild(details);
    }
    $("param-count").textContent = `· ${specs.length}`;
    filter();
    for (const card of $("prompt-list").querySelectorAll(".prompt")) {  // their weights' faders follow again
      if (card.weightRow && show.specs.has(card.weightRow.spec.name)) addRow(card.weightRow.spec.name, card.weightRow);
    }
    if (show.state) renderPrompts(show.state.prompts || []);
  }

  function rank(order, g) { const i = order.indexOf(g); return i < 0 ? order.length : i; }

  function setValues(values) {
    const now = performance.now();
    for (const [name, v] of Object.entries(values)) {
      const until = show.grabbed.get(name);
      if (until !== undefined && until > now) continue;  // a hand here holds it: its own value stands
      show.grabbed.delete(name);
      show.values[name] = v;
      paint(name, v, null);
    }
  }

  function filter() {
    const words = $("search").value.toLowerCase().split(/\s+/).filter(Boolean);
    for (const details of $("groups").querySelectorAll("details")) {
      let shown = 0;
      for (const row of details.querySelectorAll(".param")) {
        const spec = show.specs.get(row.dataset.name);
        const text = `${spec.name} ${spec.doc} ${spec.unit} ${details.dataset.group}`.toLowerCase();
        row.hidden = !words.every((w) => text.includes(w));
        if (!row.hidden) shown++;
      }
      details.hidden = shown === 0;
      if (words.length && shown) details.open = true;
    }
  }

  // -- the show's state: scenes, graph, prompts, warnings -----------------------------------------------------
  function takeState(s) {
    show.state = s;
    $("show-name").textContent = s.show || "";
    document.title = `démontage · ${s.show || "remote"}`;
    $("scene-now").textContent = s.scene ? `scene ${s.scene}` : "";
    renderPads(s);
    const key = JSON.stringify([s.graph, s.scenes, s.scene, s.pending]);
    if (key !== show.graphKey) {
      show.graphKey = key;
      window.drawGraph($("graph"), s, jump);
    }
    const p = $("pending");
    p.hidden = !s.pending;
    if (s.pending) p.textContent = `${s.pending.scene} comes ${landing(s.pending.lands)}: ${because(s.pending.why)}`;
    renderPrompts(s.prompts || []);
    if (document.activeElement !== $("seed")) $("seed").value = s.seed;
    $("clock-source").textContent = s.clock ? s.clock.says.replace(/^[\d.]+ BPM /, "") : "";
    const warnings = $("warnings");
    warnings.textContent = "";
    for (const w of s.warnings || []) {
      const li = document.createElement("li");
      li.textContent = w;
      warnings.appendChild(li);
    }
    warnings.hidden = !(s.warnings || []).length;
    $("lines").textContent = (s.lines || []).join("\n");
  }

  function because(why) {  // the graph's reasons, in words (jump (web) -> asked from a page)
    const asked = { web: "asked from a page", osc: "asked over OSC", midi: "asked from MIDI" };
    const m = /^jump \((\w+)\)$/.exec(why);
    return m ? asked[m[1]] || `asked (${m[1]})` : why.replace(/^edge /, "the way ");
  }

  function landing(lands) {
    return lands === "now" ? "now" : `on the next ${lands}`;
  }

  function jump(name) {
    const lands = $("lands").value;
    osc("/vj/scene", name, ...(lands ? [lands] : []));
  }

  function renderPads(s) {
    const box = $("pads");
    const scenes = s.scenes || [];
    if (box.dataset.scenes !== scenes.join("\n")) {
      box.dataset.scenes = scenes.join("\n");
      box.textContent = "";
      scenes.forEach((name, i) => {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "pad";
        b.dataset.scene = name;
        b.innerHTML = "<span></span><small></small>";
        b.firstChild.textContent = name;
        b.addEventListener("click", () => jump(name));
        b.title = `/vj/scene ${name} (or ${i})`;
        box.appendChild(b);
      });
      if (!scenes.length) box.innerHTML = '<p class="muted">No scenes in this set.</p>';
    }
    for (const b of box.querySelectorAll(".pad")) {
      const now = b.dataset.scene === s.scene, next = s.pending && s.pending.scene === b.dataset.scene;
      b.setAttribute("aria-pressed", String(now));
      b.classList.toggle("waiting", Boolean(next));
      b.lastChild.textContent = now ? "playing" : next ? (s.pending.lands === "now" ? "now" : `next ${s.pending.lands}`) : "";
    }
  }

  function renderPrompts(prompts) {
    const list = $("prompt-list");
    const cards = new Map([...list.querySelectorAll(".prompt")].map((c) => [Number(c.dataset.slot), c]));
    for (const p of prompts) {
      let card = cards.get(p.slot);
      if (!card) {
        card = makePrompt(p);
        list.appendChild(card);
      }
      if (!card.weightRow) attachWeight(card, p);  // its weight's spec may come a tick after the prompt
      cards.delete(p.slot);
      card.querySelector(".drawn").textContent = p.text;
      card.querySelector(".resample").hidden = p.fixed;
      const field = card.querySelector("textarea");
      if (document.activeElement !== field && !field.dataset.dirty) field.value = p.template;
    }
    for (const stale of cards.values()) stale.remove();
  }

  function makePrompt(p) {
    const card = document.createElement("div");
    card.className = "prompt";
    card.dataset.slot = p.slot;
    card.innerHTML = '<div class="prompt-head"><b></b><button type="button" class="resample secondary">draw again</button></div>' +
      '<form class="prompt-form"><div class="row"><textarea rows="2" maxlength="1000" autocomplete="off" ' +
      'spellcheck="false"></textarea><button type="submit">send</button></div></form><p class="drawn"></p>';
    card.querySelector("b").textContent = `prompt ${p.slot}`;
    const field = card.querySelector("textarea");
    const form = card.querySelector("form");
    field.dataset.prompt = p.slot;
    field.setAttribute("aria-label", `prompt ${p.slot}: its text or template, {a|b} for choices; Enter sends it`);
    for (const kind of ["input", "change"]) field.addEventListener(kind, () => { field.dataset.dirty = "1"; });
    field.addEventListener("keydown", (ev) => {  // a prompt is one line: Enter sends it
      if (ev.key === "Enter" && !ev.isComposing) { ev.preventDefault(); form.requestSubmit(); }
    });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const text = field.value.replace(/\s+/g, " ").trim();
      if (!text) return;
      osc(`/vj/prompt/${p.slot}`, text);
      delete field.dataset.dirty;
      field.blur();
    });
    card.querySelector(".resample").addEventListener("click", () => osc(`/vj/resample/${p.slot}`));
    return card;
  }

  function attachWeight(card, p) {
    const spec = show.specs.get(p.weight);
    if (!spec) return;
    const r = makeRow(spec);
    r.row.querySelector(".doc").remove();
    card.appendChild(r.row);
    addRow(spec.name, r);
    card.weightRow = r;
  }

  // -- ticks: values moved elsewhere, the snapshot's values, clock, meters -------------------------------------
  function takeTick(m) {
    if (m.values) setValues(m.values);
    if (m.live) {
      Object.assign(show.live, m.live);
      for (const [name, v] of Object.entries(m.live)) paintLive(name, v);
    }
    if (m.frame) takeFrame(m.frame);
    if (m.spectrum) drawSpectrum(m.spectrum, m.frame && m.frame.onset);
  }

  const METERS = ["level", "bass", "mid", "high"];
  function buildMeters() {
    const box = $("meters");
    for (const name of METERS) {
      const d = document.createElement("div");
      d.className = "meter";
      d.innerHTML = '<span></span><div class="bar" role="meter" aria-valuemin="0" aria-valuemax="1"><i></i></div>';
      d.firstChild.textContent = name;
      d.querySelector(".bar").setAttribute("aria-label", `${name} of the sound`);
      d.dataset.meter = name;
      box.appendChild(d);
    }
  }

  function takeFrame(f) {
    $("bpm").textContent = f.bpm ? f.bpm.toFixed(1) : "–";
    $("bpm-hold").placeholder = f.bpm ? f.bpm.toFixed(1) : "";
    const q = f.quantum || 4, beats = $("beats");
    if (beats.children.length !== q) {
      beats.textContent = "";
      for (let i = 0; i < q; i++) {
        const b = document.createElement("i");
        if (i === 0) b.className = "one";
        beats.appendChild(b);
      }
    }
    const inBar = Math.floor(f.beat) % q;
    [...beats.children].forEach((b, i) => b.classList.toggle("on", i === inBar));
    $("bar").textContent = `bar ${Math.floor(f.beat / q) + 1} · beat ${inBar + 1}`;
    for (const name of METERS) {
      const bar = document.querySelector(`[data-meter="${name}"] .bar`);
      const v = Math.min(1, Math.max(0, f[name] || 0));
      bar.firstChild.style.width = `${(v * 100).toFixed(1)}%`;
      bar.setAttribute("aria-valuenow", v.toFixed(2));
    }
  }

  function drawSpectrum(bands, onset) {
    const c = $("spectrum");
    if (!c.offsetParent) return;  // not on screen (another tab on a phone)
    const w = (c.width = c.clientWidth * devicePixelRatio), h = (c.height = c.clientHeight * devicePixelRatio);
    const g = c.getContext("2d");
    const bw = w / bands.length;
    const grad = g.createLinearGradient(0, h, 0, 0);
    grad.addColorStop(0, "#55d68a");
    grad.addColorStop(0.75, "#ffb13b");
    grad.addColorStop(1, "#ff5a5a");
    g.fillStyle = grad;
    bands.forEach((v, i) => {
      const bh = Math.max(1, v * (h - 4));
      g.fillRect(i * bw + 1, h - bh, Math.max(1, bw - 2), bh);
    });
    c.classList.toggle("onset", Boolean(onset));
  }

  // -- the preview: JPEG frames over the socket -------------------------------------------------------------------
  function takePreview(buf) {
    const view = new DataView(buf);
    if (buf.byteLength < 32 || view.getUint32(0) !== 0x564a5031) return;  // "VJP1"
    const index = view.getUint32(4, true), wall = view.getFloat64(16, true);
    const url = URL.createObjectURL(new Blob([buf.slice(32)], { type: "image/jpeg" }));
    const img = $("preview");
    img.onload = () => {
      if (previewUrl && previewUrl !== url) URL.revokeObjectURL(previewUrl);
      previewUrl = url;
      img.dataset.frame = String(index);  // the frame on screen (scripts and tests read it)
    };
    img.src = url;
    const t = performance.now();
    show.previewTimes.push(t);
    while (show.previewTimes.length && show.previewTimes[0] < t - 2000) show.previewTimes.shift();
    const age = Math.max(0, Date.now() / 1000 - wall);
    $("preview-info").textContent = `${(show.previewTimes.length / 2).toFixed(0)} fps · ${age < 10 ? (age * 1000).toFixed(0) + " ms" : "–"}`;
  }

  // -- tabs (a phone shows one section at a time) --------------------------------------------------------------------
  function showTab(id) {
    for (const tab of document.querySelectorAll(".tabs [role=tab]")) {
      tab.setAttribute("aria-selected", String(tab.dataset.tab === id));
    }
    for (const panel of document.querySelectorAll(".panel")) panel.classList.toggle("shown", panel.dataset.tab === id);
    try { sessionStorage.setItem("vj-tab", id); } catch (e) { /* private mode */ }
  }

  function wire() {
    for (const tab of document.querySelectorAll(".tabs [role=tab]")) {
      tab.addEventListener("click", () => showTab(tab.dataset.tab));
    }
    let first = "play";
    try { first = sessionStorage.getItem("vj-tab") || "play"; } catch (e) { /* private mode */ }
    showTab(first);
    $("search").addEventListener("input", filter);
    $("tap").addEventListener("click", () => {
      osc("/vj/tap");
      $("tap").classList.add("hit");
      setTimeout(() => $("tap").classList.remove("hit"), 90);
    });
    $("next-scene").addEventListener("click", () => osc("/vj/scene/next"));
    $("preview-on").addEventListener("change", (ev) => send({ preview: ev.target.checked }));
    $("seed").addEventListener("change", (ev) => {
      const v = parseInt(ev.target.value, 10);
      if (Number.isInteger(v) && v >= 0) osc("/vj/seed", v);
    });
    $("seed-new").addEventListener("click", () => osc("/vj/seed", Math.floor(Math.random() * 2147483647)));
    $("resample-all").addEventListener("click", () => osc("/vj/resample"));
    $("bpm-set").addEventListener("click", () => {
      const v = parseFloat($("bpm-hold").value);
      if (v >= 20 && v <= 400) osc("/vj/bpm", v); else say("A tempo to hold is 20 to 400 BPM.");
    });
    $("bpm-free").addEventListener("click", () => osc("/vj/bpm", 0));
    $("prompt-add").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const text = $("prompt-new").value;
      if (!text.trim()) return;
      const n = show.state ? (show.state.prompts || []).length : 0;
      osc(`/vj/prompt/${n + 1}`, text);
      $("prompt-new").value = "";
    });
    buildMeters();
    window.addEventListener("pagehide", flush);  // a move made just before the page goes is still sent
  }

  wire();
  connect();
})();
