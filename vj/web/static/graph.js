// The scene graph, drawn: scenes as nodes round an ellipse, the one playing lit, its ways out bright,
// the move waiting for its bar dashed; the ways out of the scene playing listed with their conditions.
// window.drawGraph(container, state, pick): state is the show's state (graph, scenes, scene, pending);
// pick(name) is called when a node is clicked (a jump, as a pad does).
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const W = 400, H = 250;

  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }

  function place(scenes) {
    const n = scenes.length, at = new Map();
    scenes.forEach((s, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(n, 1);
      at.set(s, { x: W / 2 + (n > 1 ? 150 * Math.cos(a) : 0), y: H / 2 + (n > 1 ? 88 * Math.sin(a) : 0) });
    });
    return at;
  }

  function curve(a, b) {
    // a quadratic bend to the left of the way: A->B and B->A take two sides
    const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
    const ux = dx / len, uy = dy / len, pad = 26;
    const s = { x: a.x + ux * pad, y: a.y + uy * pad * 0.6 }, e = { x: b.x - ux * pad, y: b.y - uy * pad * 0.6 };
    const c = { x: (s.x + e.x) / 2 - uy * 28, y: (s.y + e.y) / 2 + ux * 28 };
    return `M${s.x.toFixed(1)},${s.y.toFixed(1)} Q${c.x.toFixed(1)},${c.y.toFixed(1)} ${e.x.toFixed(1)},${e.y.toFixed(1)}`;
  }

  window.drawGraph = function (box, state, pick) {
    box.textContent = "";
    const g = state.graph, scenes = state.scenes || [];
    if (!g || !scenes.length) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = scenes.length ? "No scene graph in this set: scenes change when you ask (the pads above)."
        : "No scenes in this set.";
      box.appendChild(p);
      return;
    }
    const now = state.scene, next = state.pending ? state.pending.scene : null;
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img",
      "aria-label": `scene graph: ${scenes.length} scenes, ${now || "none"} playing` }, box);
    const defs = el("defs", {}, svg);
    for (const [id, colour] of [["a", "#474c59"], ["a-out", "#ffb13b"], ["a-next", "#ffffff"]]) {
      const m = el("marker", { id, viewBox: "0 0 10 10", refX: 8, refY: 5, markerWidth: 7, markerHeight: 7,
        orient: "auto-start-reverse" }, defs);
      el("path", { d: "M0,0 L10,5 L0,10 z", fill: colour }, m);
    }
    const at = place(scenes);
    const edges = el("g", {}, svg);
    for (const e of g.edges) {
      const b = at.get(e.to);
      if (!b) continue;
      const out = e.from === now || (e.from === "*" && e.to !== now);
      const isNext = next === e.to && out;
      const cls = "edge" + (isNext ? " next" : out ? " out" : "");
      const marker = isNext ? "a-next" : out ? "a-out" : "a";
      let path;
      if (e.from === "*") {  // from any scene: a short way in from above, marked "any"
        path = el("path", { d: `M${b.x},${b.y - 52} L${b.x},${b.y - 20}`, class: cls, "marker-end": `url(#${marker})` }, edges);
        el("text", { x: b.x, y: b.y - 56, class: "any" }, edges).textContent = "any";
      } else {
        const a = at.get(e.from);
        if (!a) continue;
        path = el("path", { d: curve(a, b), class: cls, "marker-end": `url(#${marker})` }, edges);
      }
      el("title", {}, path).textContent = `${e.from} → ${e.to}: ${e.when}`;
    }
    for (const s of scenes) {
      const p = at.get(s), w = Math.max(54, 8 * s.length + 18);
      const node = el("g", { class: "node" + (s === now ? " now" : "") + (s === next ? " next" : ""),
        transform: `translate(${p.x},${p.y})`, tabindex: 0, role: "button", "aria-label": `go to ${s}` }, svg);
      el("rect", { x: -w / 2, y: -14, width: w, height: 28, rx: 8 }, node);
      el("text", { x: 0, y: 0 }, node).textContent = s;
      node.addEventListener("click", () => pick(s));
      node.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); pick(s); } });
    }
    const ways = g.edges.filter((e) => (e.from === now || e.from === "*") && e.to !== now);
    const list = document.createElement("ul");
    list.className = "ways";
    list.setAttribute("aria-label", `ways out of ${now || "the scene"}`);
    for (const e of ways) {
      const li = document.createElement("li");
      const b = document.createElement("b"), span = document.createElement("span");
      b.textContent = `→ ${e.to}`;
      span.textContent = `${e.from === "*" ? "from any: " : ""}${e.when}; lands on the ${e.lands}`;
      li.append(b, span);
      list.appendChild(li);
    }
    if (!ways.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = g.drift > 0 ? `no way out: it drifts (${Math.round(g.drift * 100)}% a bar)` : "no way out of this scene";
      list.appendChild(li);
    } else if (g.drift > 0) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = `and, when nothing else moves, a way at random: ${Math.round(g.drift * 100)}% a bar`;
      list.appendChild(li);
    }
    box.appendChild(list);
  };
})();
