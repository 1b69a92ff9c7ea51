/* The desk's one script (hand-written, no build step, nothing from the network).
   It follows the job shown on a page: GET /api/jobs/ID once a second, updates the figures and draws
   value, bound and gap over time as inline SVG. Text from the server only ever goes into textContent
   or SVG attributes, never into HTML. Without this script the pages still work: reload to see progress. */
(function () {
  "use strict";
  var box = document.querySelector("section.job[data-job]");
  if (!box) return;
  var NS = "http://www.w3.org/2000/svg";
  var FINAL = ["done", "failed", "cancelled", "interrupted"];
  var W = 640, H = 200, LEFT = 56, RIGHT = 44, TOP = 12, BOTTOM = 24;
  var jobId = box.getAttribute("data-job");
  var storeKey = "matchmaker-job-" + jobId;  // the points survive a reload of the page
  var svg = box.querySelector("svg.chart");
  var points = load();
  var last = "";
  var updates = 0;
  var activeAtLoad = !isFinal(box.getAttribute("data-status"));
  var clock = null;  // {seconds, at}: the last reading, so the time axis moves between readings

  function load() {
    try { return JSON.parse(window.sessionStorage.getItem(storeKey)) || []; } catch (e) { return []; }
  }
  function save() {
    try { window.sessionStorage.setItem(storeKey, JSON.stringify(points.slice(-900))); } catch (e) { /* private mode */ }
  }
  function isFinal(status) { return FINAL.indexOf(status) >= 0; }
  function given(x) { return x !== null && x !== undefined; }
  function format(x, digits) {
    return given(x) ? Number(x).toLocaleString("en-US", { maximumFractionDigits: digits || 0 }) : "\u2013";
  }
  function setText(selector, value) {
    var el = box.querySelector(selector);
    if (el) el.textContent = value;
  }
  function svgEl(name, attrs, text) {
    var el = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function update(job) {
    var p = job.progress || {};
    var reading = JSON.stringify([p.stage, p.seconds, p.value, p.bound, p.gap_percent]);
    if (reading !== last) {
      last = reading;
      // a new reading restarts the clock; never backwards (the solver counts from its worker's start, later than the job's)
      if (given(p.seconds)) clock = { seconds: Math.max(p.seconds, now() || 0), at: Date.now() };
      updates += 1;
      box.setAttribute("data-updates", String(updates));
      var seen = points.length && points[points.length - 1].t === p.seconds;
      if (given(p.seconds) && !seen) {
        // a gap without value is CP-SAT's own; with value it is the schedule's: plotted as value and bound
        points.push({ t: p.seconds, v: p.value, b: p.bound, g: given(p.value) ? null : p.gap_percent });
        save();
      }
    }
    if (isFinal(job.status)) clock = null;
    box.setAttribute("data-status", job.status);
    var badge = box.querySelector(".job-status");
    badge.textContent = job.status;
    badge.setAttribute("class", "badge job-status status-" + job.status);
    setText(".job-stage", p.stage || "\u2013");
    setText(".job-seconds", given(p.seconds) ? format(clock ? now() : p.seconds, 1) : "\u2013");
    setText(".job-value", format(p.value));
    setText(".job-bound", format(p.bound));
    setText(".job-gap", given(p.gap_percent) ? format(p.gap_percent, 2) + " %" : "\u2013");
    draw();
    if (isFinal(job.status)) finish(job);
  }

  function now() {
    return clock ? clock.seconds + (Date.now() - clock.at) / 1000 : null;
  }

  function finish(job) {
    var stop = box.querySelector("form.stop");
    if (stop) stop.hidden = true;
    if (activeAtLoad && job.status === "done") {  // the page's lists of versions are out of date: show the new one
      activeAtLoad = false;
      window.setTimeout(function () { window.location.reload(); }, 1500);
    }
    var done = box.querySelector(".job-done");
    if (done && job.schedule_version && !done.querySelector("a")) {
      var version = String(Number(job.schedule_version));
      if (job.kind === "replan") {
        done.appendChild(link(box.getAttribute("data-changes-url") + version, "Open the change report of schedule version " + version));
        done.appendChild(document.createTextNode(" \u00b7 "));
      }
      done.appendChild(link(box.getAttribute("data-schedule-url") + version, "Open schedule version " + version));
      done.hidden = false;
    }
    var error = box.querySelector(".job-error");
    if (error && job.error) {
      error.textContent = job.error;
      error.hidden = false;
    }
  }

  function link(href, text) {
    var a = document.createElement("a");
    a.setAttribute("href", href);
    a.textContent = text;
    return a;
  }

  /* value and bound share the left axis; the gap (%) has its own, on the right */
  function draw() {
    if (!svg) return;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    if (!points.length) {
      svg.appendChild(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle", "class": "chart-empty" }, "waiting for the first progress report\u2026"));
      return;
    }
    var running = now();
    var tMax = Math.max(1, points[points.length - 1].t, running || 0);
    var vb = [];
    points.forEach(function (p) { if (given(p.v)) vb.push(p.v); if (given(p.b)) vb.push(p.b); });
    var gaps = points.filter(function (p) { return given(p.g); }).map(function (p) { return p.g; });
    var lo = vb.length ? Math.min.apply(null, vb) : 0, hi = vb.length ? Math.max.apply(null, vb) : 1;
    if (hi === lo) { lo = lo * 0.95; hi = hi * 1.05 || 1; }
    var gMax = gaps.length ? Math.max(1, Math.max.apply(null, gaps)) : 1;
    function x(t) { return LEFT + (W - LEFT - RIGHT) * t / tMax; }
    function yv(v) { return TOP + (H - TOP - BOTTOM) * (1 - (v - lo) / (hi - lo)); }
    function yg(g) { return TOP + (H - TOP - BOTTOM) * (1 - g / gMax); }
    svg.appendChild(svgEl("line", { x1: LEFT, y1: H - BOTTOM, x2: W - RIGHT, y2: H - BOTTOM, "class": "axis" }));
    svg.appendChild(svgEl("line", { x1: LEFT, y1: TOP, x2: LEFT, y2: H - BOTTOM, "class": "axis" }));
    svg.appendChild(svgEl("text", { x: LEFT, y: H - 6, "text-anchor": "middle" }, "0 s"));
    svg.appendChild(svgEl("text", { x: W - RIGHT, y: H - 6, "text-anchor": "middle" }, format(tMax, 1) + " s"));
    if (vb.length) {
      svg.appendChild(svgEl("text", { x: LEFT - 4, y: TOP + 8, "text-anchor": "end" }, format(hi)));
      svg.appendChild(svgEl("text", { x: LEFT - 4, y: H - BOTTOM, "text-anchor": "end" }, format(lo)));
    }
    if (gaps.length) svg.appendChild(svgEl("text", { x: W - RIGHT + 4, y: TOP + 8 }, format(gMax, 1) + " %"));
    series("g", yg, "gap");
    series("v", yv, "value");
    series("b", yv, "bound");
    if (running !== null) {  // where the job is now: the axis keeps moving while the solver searches
      svg.appendChild(svgEl("line", { x1: x(running), y1: TOP, x2: x(running), y2: H - BOTTOM, "class": "axis now" }));
    }

    function series(field, y, cls) {
      var xy = points.filter(function (p) { return given(p[field]); }).map(function (p) { return [x(p.t), y(p[field])]; });
      if (xy.length === 1) {
        svg.appendChild(svgEl("circle", { cx: xy[0][0], cy: xy[0][1], r: 4, "class": cls }));
      } else if (xy.length > 1) {
        svg.appendChild(svgEl("polyline", { points: xy.map(function (p) { return p[0].toFixed(1) + "," + p[1].toFixed(1); }).join(" "), "class": cls }));
      }
    }
  }

  function poll() {
    window.fetch("/api/jobs/" + encodeURIComponent(jobId), { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (job) {
        update(job);
        if (!isFinal(job.status)) window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }

  draw();
  poll();
  window.setInterval(function () {
    var t = now();
    if (t === null) return;
    setText(".job-seconds", format(t, 1));
    draw();
  }, 1000);
})();
