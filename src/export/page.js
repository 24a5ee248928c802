// looplab's run page: draws the JSON in #looplab-data into the stepper and the lanes.
// Plain JavaScript, no framework and no build step: the page opens from a file, offline.
"use strict";
(function () {
  // Errors are shown in the page too, so a broken page says so (and the browser
  // test, which reads the page, sees it).
  var errors = [];
  function report(message) {
    errors.push(message);
    var box = document.getElementById("errors");
    box.hidden = false;
    box.textContent = "This page hit an error:\n" + errors.join("\n");
  }
  window.addEventListener("error", function (e) { report(String(e.message || e)); });
  window.addEventListener("unhandledrejection", function (e) { report(String(e.reason)); });

  var DATA = JSON.parse(document.getElementById("looplab-data").textContent);
  var STEP_NAMES = ["run", "stop?", "choose timeout", "park", "fire timers"];
  var STEP_STATES = { a: "active", i: "idle", s: "skipped" };
  var current = 0;

  function byId(id) { return document.getElementById(id); }

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // 10001 -> "10,001", the same in every locale.
  function num(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }

  function plural(n, one, many) { return num(n) + " " + (n === 1 ? one : many); }

  // ---------------------------------------------------------------- summary
  function drawSummary() {
    var total = DATA.turns.length;
    var stopped = total - DATA.completed_turns;
    var turns = plural(total, "turn", "turns");
    if (stopped > 0) {
      turns += " (" + num(DATA.completed_turns) + " ran to the end, " + num(stopped) + " stopped the loop)";
    }
    byId("summary").textContent = [
      turns,
      plural(DATA.tasks, "task", "tasks"),
      plural(DATA.polls, "poll", "polls"),
      plural(DATA.wakes, "wake", "wakes"),
      DATA.duration + " on the runtime's clock",
      plural(DATA.records, "trace event", "trace events"),
      "one thread",
    ].join(" · ");
    if (DATA.running_len > 0) {
      var running = byId("running");
      running.hidden = false;
      running.textContent = "Still running when the records end: " + DATA.running.join(", ") +
        (DATA.running_len > DATA.running.length ? " and " + num(DATA.running_len - DATA.running.length) + " more" : "") + ".";
    }
    if (DATA.limits.length > 0) {
      var limits = byId("limits");
      limits.hidden = false;
      limits.textContent = "A big run: " + DATA.limits.join(" ");
    }
  }

  // ---------------------------------------------------------------- stepper
  function stateHtml(turn) {
    var d = turn.detail;
    if (!d) {
      return "<p class=\"empty\">This turn is summarised (see the note at the top): " +
        plural(turn.queue_len, "task", "tasks") + " ready, " +
        plural(turn.timers_len, "timer", "timers") + ", " +
        plural(turn.io_len, "I/O registration", "I/O registrations") + ", " +
        plural(turn.lines_len, "trace line", "trace lines") + ".</p>";
    }
    if (!d.recorded) {
      return "<p class=\"empty\">" + (turn.stopped
        ? "main is done: the loop stops in step 2 and block_on returns its output. No state is recorded after the last turn: the run is over."
        : "The recording holds no state for this turn.") + "</p>";
    }
    // Main has a flag, not a place in the run queue (chapter 5): its own line.
    var main = turn.stopped ? "done: block_on returns its output"
      : d.main_woken ? "woken: polled first in the next turn" : "waiting (not woken)";
    var html = "<div class=\"state-row\"><span class=\"state-label\">main</span> <span class=\"main-flag" +
      (d.main_woken && !turn.stopped ? " woken" : "") + "\">" + main + "</span></div>";
    html += "<div class=\"state-label\">" + (turn.stopped ? "Run queue, left unpolled: the loop stops" : "Run queue (polled in the next turn)") +
      "</div><div class=\"chips\">";
    d.queue.forEach(function (task) { html += "<span class=\"chip\">" + esc(task) + "</span>"; });
    if (d.queue.length === 0) { html += "<span class=\"empty\">(empty)</span>"; }
    html += "</div>";
    var queued = turn.queue_len - (d.main_woken ? 1 : 0);
    if (queued > d.queue.length) { html += "<div class=\"more\">… and " + num(queued - d.queue.length) + " more</div>"; }

    if (DATA.heap) {
      html += "<div class=\"state-label\">Timer heap (asyncio's _scheduled) · " + plural(turn.timers_len, "timer", "timers") + ", by heap index</div>";
    } else {
      html += "<div class=\"state-label\">Timer wheel: hand at tick " + num(d.hand) + " · " + plural(turn.timers_len, "timer", "timers") + ", by level and slot</div>";
    }
    if (d.timers.length === 0) {
      html += "<p class=\"empty\">(none)</p>";
    } else {
      html += DATA.heap ? "<table><tr><th>heap index</th><th>timer</th><th>due</th><th>runs</th></tr>"
        : "<table><tr><th>level</th><th>slot</th><th>timer</th><th>due</th><th>wakes</th></tr>";
      d.timers.forEach(function (t) {
        html += "<tr><td>" + t[0] + "</td>" + (DATA.heap ? "" : "<td>" + t[1] + "</td>") + "<td>" + esc(t[2]) + "</td><td>" +
          esc(t[3]) + "</td><td>" + esc(t[4]) + "</td></tr>";
      });
      html += "</table>";
      if (turn.timers_len > d.timers.length) { html += "<div class=\"more\">… and " + num(turn.timers_len - d.timers.length) + " more</div>"; }
    }

    html += "<div class=\"state-label\">I/O registrations</div>";
    if (d.io.length === 0) {
      html += "<p class=\"empty\">(none)</p>";
    } else {
      html += "<table><tr><th>" + esc(DATA.keys) + "</th><th>source</th><th title=\"readable, writable: as the loop last saw it\">ready</th><th>who waits</th></tr>";
      d.io.forEach(function (io) {
        html += "<tr><td>" + io[0] + "</td><td>" + esc(io[1]) + " <span class=\"more\">(" + esc(io[2]) + ")</span></td><td class=\"ready\">" +
          esc(io[3]) + "</td><td>" + esc(io[4]) + "</td></tr>";
      });
      html += "</table>";
      if (turn.io_len > d.io.length) { html += "<div class=\"more\">… and " + num(turn.io_len - d.io.length) + " more</div>"; }
    }
    return html;
  }

  function linesHtml(turn) {
    var d = turn.detail;
    if (!d) { return "<p class=\"empty\">(summarised)</p>"; }
    var html = "<table>";
    d.lines.forEach(function (line) {
      html += "<tr class=\"s" + line[3] + "\" data-step=\"" + (line[3] - 1) + "\"><td class=\"t\">" + esc(line[0]) +
        "</td><td class=\"who\">" + esc(line[1]) + "</td><td>" + esc(line[2]) + "</td></tr>";
    });
    html += "</table>";
    if (turn.lines_len > d.lines.length) {
      html += "<div class=\"more\">… and " + num(turn.lines_len - d.lines.length) +
        " more lines in this turn (run with --trace, or open the Chrome trace, for all of them)</div>";
    }
    return html;
  }

  function showTurn(index) {
    if (DATA.turns.length === 0) { return; }
    current = Math.max(0, Math.min(DATA.turns.length - 1, index));
    var turn = DATA.turns[current];
    var title = byId("turn-title");
    var when = turn.t0 === turn.t1 ? "at " + turn.t0 : turn.t0 + " → " + turn.t1;
    title.textContent = "Turn " + num(turn.n) + " of " + num(DATA.turns.length) + " · " + when +
      (turn.stopped ? " · the loop stops" : "");
    title.dataset.turn = String(turn.n);
    byId("turn-slider").value = String(turn.n);
    byId("prev").disabled = current === 0;
    byId("next").disabled = current === DATA.turns.length - 1;

    var steps = document.querySelectorAll("#diagram .d-step");
    var notes = "";
    for (var i = 0; i < steps.length; i++) {
      var state = STEP_STATES[turn.steps.charAt(i)];
      var note = turn.detail ? turn.detail.notes[i] : "";
      steps[i].setAttribute("class", "d-step " + state);
      notes += "<li class=\"" + state + "\" data-step=\"" + i + "\"><b>" + (i + 1) + " · " + STEP_NAMES[i] +
        "</b>" + (note ? ": " + esc(note) : "") + "</li>";
    }
    byId("step-notes").innerHTML = notes;
    byId("state-title").textContent = turn.stopped
      ? "When the loop stopped (turn " + turn.n + ")"
      : "After turn " + turn.n + " (what --step shows)";
    byId("state").innerHTML = stateHtml(turn);
    byId("lines").innerHTML = linesHtml(turn);
    var link = byId("to-lanes");
    link.textContent = turn.col === undefined ? "(not drawn in the lanes)" : "show turn " + num(turn.n) + " in the lanes ↓";
    markTurnInLanes(current);
    scrollLanesTo(current);
  }

  function hoverStep(step, on) {
    var node = document.querySelector("#diagram .d-step[data-step=\"" + step + "\"]");
    if (!node) { return; }
    var cls = node.getAttribute("class").replace(/ hover/g, "");
    node.setAttribute("class", on ? cls + " hover" : cls);
  }

  function wireStepper() {
    var slider = byId("turn-slider");
    slider.max = String(Math.max(1, DATA.turns.length));
    slider.addEventListener("input", function () { showTurn(Number(slider.value) - 1); });
    byId("prev").addEventListener("click", function () { showTurn(current - 1); });
    byId("next").addEventListener("click", function () { showTurn(current + 1); });
    byId("to-lanes").addEventListener("click", function (e) {
      e.preventDefault();
      if (DATA.turns[current].col === undefined) { return; }
      byId("lanes").scrollIntoView({ block: "start" });
      scrollLanesTo(current);
    });
    document.addEventListener("keydown", function (e) {
      if (e.altKey || e.ctrlKey || e.metaKey) { return; }
      var target = e.target;
      // A focused slider moves on its own arrow keys; a text field keeps its keys.
      if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA")) { return; }
      var moves = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: DATA.turns.length - 1 };
      if (!(e.key in moves)) { return; }
      e.preventDefault();
      showTurn(moves[e.key]);
    });
    // Hovering a trace line shows which step of the loop it belongs to.
    byId("lines").addEventListener("mouseover", function (e) {
      var row = e.target.closest ? e.target.closest("tr") : null;
      for (var i = 0; i < 5; i++) { hoverStep(i, row !== null && Number(row.dataset.step) === i); }
    });
    byId("lines").addEventListener("mouseleave", function () {
      for (var i = 0; i < 5; i++) { hoverStep(i, false); }
    });
  }

  // ---------------------------------------------------------------- lanes
  // Sizes in pixels. Text is 13 px (page.css): a box is as wide as its text needs,
  // measured with the page's own font, so no label is cut or runs into the next.
  var LANE_H = 44, TOP = 48, BOX_T = 10, BOX_H = 24, GAP = 10, TURN_GAP = 16, PAD = 6;
  var colX = [], colW = [];
  var turnSpan = {};
  var fitted = false;
  var measure = null;

  function laneY(lane) { return TOP + lane * LANE_H; }

  function textWidth(text) {
    if (!measure) {
      measure = document.createElement("canvas").getContext("2d");
      var probe = byId("lanes-svg");
      var style = window.getComputedStyle(probe);
      measure.font = "13px " + style.fontFamily;
    }
    return measure.measureText(String(text)).width;
  }

  // What a column's box says: a poll's outcome and its marks, a park's reason and wait.
  function boxText(col) { return col.k === "poll" && col.m ? col.l + " " + col.m : col.l; }

  function columnWidth(col) {
    var text = textWidth(boxText(col));
    if (col.k === "poll") { return Math.max(28, text + 2 * PAD); }
    if (col.k === "fire") { return 18 + text + PAD; }
    if (col.k === "park") {
      // Longer waits draw wider boxes: a little more per tenfold, so a 1 s park stands
      // out from a 0 ms one without a clock scale (under virtual time polls take no time).
      return text + 2 * PAD + 14 * Math.log10(1 + (col.d || 0));
    }
    return text + 2 * PAD;
  }

  function drawLanes() {
    var L = DATA.lanes;
    var labels = "<div class=\"head\">turn<br>clock</div>";
    L.lanes.forEach(function (lane, i) {
      var attrs = lane.task === null ? "" : " data-task=\"" + lane.task + "\"";
      var title = lane.label + (lane.end ? " (" + (lane.end === "running" ? "still running at the end" : lane.end) + ")" : "");
      var mark = lane.end === "panicked" ? " ✗" : "";
      labels += "<div" + attrs + (i === 0 ? " class=\"loop-lane\"" : "") + " title=\"" + esc(title) + "\">" +
        esc(lane.label) + mark + "</div>";
    });
    byId("lane-labels").innerHTML = labels;

    var notes = [];
    if (L.hidden_tasks > 0) { notes.push(L.hidden_tasks + " tasks share the last lane (\"other tasks\")."); }
    if (L.hidden_cols > 0) { notes.push("The lanes end after " + L.cols.length + " columns; " + L.hidden_cols + " more are left out."); }
    if (notes.length > 0) {
      var note = byId("lanes-note");
      note.hidden = false;
      note.textContent = notes.join(" ");
    }

    // Columns left to right; a turn is at least as wide as its own label and clock.
    var x = 8;
    L.cols.forEach(function (col, i) {
      var first = i === 0 || L.cols[i - 1].turn !== col.turn;
      if (first && i > 0) {
        var prev = turnSpan[L.cols[i - 1].turn];
        x = Math.max(x, prev.x0 + prev.min) + TURN_GAP - GAP;
      }
      colX.push(x);
      colW.push(columnWidth(col));
      if (first) {
        var n = DATA.turns[col.turn] ? DATA.turns[col.turn] : null;
        var clock = n ? n.t0 : col.t;
        turnSpan[col.turn] = {
          x0: x - GAP / 2, x1: x, clock: clock,
          min: Math.max(textWidth("turn " + (col.turn + 1)), textWidth(clock)) + 8,
        };
      }
      x += colW[i] + GAP;
      var span = turnSpan[col.turn];
      span.x1 = Math.max(x - GAP / 2, span.x0 + span.min);
    });
    Object.keys(turnSpan).forEach(function (t) { x = Math.max(x, turnSpan[t].x1 + GAP / 2); });
    var width = Math.max(x + 12, 300);
    var height = laneY(L.lanes.length) + 6;
    var s = [];
    s.push("<defs>");
    ["task", "timer", "io"].forEach(function (kind) {
      s.push("<marker id=\"head-" + kind + "\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"9\" markerHeight=\"9\" orient=\"auto\"><path class=\"head-" + kind + "\" d=\"M0,0 L10,5 L0,10 z\"/></marker>");
    });
    s.push("</defs>");

    // Turn bands, each labelled with its number and clock, and clickable.
    Object.keys(turnSpan).forEach(function (key) {
      var t = Number(key), span = turnSpan[t];
      s.push("<rect class=\"band" + (t % 2 ? " odd" : "") + "\" data-turn=\"" + t + "\" x=\"" + span.x0 + "\" y=\"0\" width=\"" +
        (span.x1 - span.x0) + "\" height=\"" + height + "\"/>");
      s.push("<text class=\"turn-label\" data-turn=\"" + t + "\" x=\"" + (span.x0 + 4) + "\" y=\"17\">turn " + (t + 1) + "</text>");
      s.push("<text class=\"time\" x=\"" + (span.x0 + 4) + "\" y=\"37\">" + esc(span.clock) + "</text>");
    });
    for (var lane = 0; lane <= L.lanes.length; lane++) {
      s.push("<line class=\"lane-line\" x1=\"0\" x2=\"" + width + "\" y1=\"" + laneY(lane) + "\" y2=\"" + laneY(lane) + "\"/>");
    }
    // A dotted life line from each task's first drawn poll to its last: it waits in between.
    var life = {};
    L.cols.forEach(function (col, i) {
      if (col.k !== "poll") { return; }
      var span = life[col.lane] || (life[col.lane] = { first: i, last: i });
      span.last = i;
    });
    Object.keys(life).forEach(function (lane) {
      var span = life[lane], y = laneY(Number(lane)) + BOX_T + BOX_H / 2;
      s.push("<line class=\"life\" x1=\"" + colX[span.first] + "\" x2=\"" + (colX[span.last] + colW[span.last]) + "\" y1=\"" + y + "\" y2=\"" + y + "\"/>");
    });
    // The columns.
    L.cols.forEach(function (col, i) {
      var x0 = colX[i], w = colW[i], y = laneY(col.lane), top = y + BOX_T;
      var tip = "<title>" + esc(col.tip) + "</title>";
      var mid = x0 + w / 2, base = top + 17;
      var box = function (cls, dashed) {
        return "<rect class=\"" + cls + "\" x=\"" + x0 + "\" y=\"" + top + "\" width=\"" + w + "\" height=\"" + BOX_H + "\" rx=\"" + (dashed ? 5 : 3) + "\"/>";
      };
      var label = function (cls) {
        return "<text class=\"center" + (cls ? " " + cls : "") + "\" x=\"" + mid + "\" y=\"" + base + "\">" + esc(boxText(col)) + "</text>";
      };
      if (col.k === "poll") {
        var cls = { P: "P", R: "R", "!": "X", "?": "U" }[col.l] || "U";
        s.push("<g class=\"col\" data-col=\"" + i + "\">" + tip + box("poll " + cls) + label() + "</g>");
      } else if (col.k === "others") {
        s.push("<g class=\"col\">" + tip + box("others") + label() + "</g>");
      } else if (col.k === "park" || col.k === "peek") {
        s.push("<g class=\"col\">" + tip + box(col.k, true) + label() + "</g>");
      } else if (col.k === "nopark" || col.k === "stop") {
        s.push("<g class=\"col\">" + tip + box(col.k, true) + label(col.k + "-text") + "</g>");
      } else if (col.k === "fire") {
        // The dot and its count sit in a box of their own, which the timer arrows leave.
        s.push("<g class=\"col\">" + tip + box("fire-box") + "<circle class=\"fire\" cx=\"" + (x0 + 9) + "\" cy=\"" + (top + BOX_H / 2) + "\" r=\"6\"/>" +
          "<text x=\"" + (x0 + 18) + "\" y=\"" + base + "\">" + esc(col.l) + "</text></g>");
      }
    });
    // Wakes, from the waker's box to the woken task's box. Each arrow leaves its box on
    // the right, runs in the gap after it to the line between lanes, along that line,
    // and down (or up) the gap before the target: gaps and lane lines hold no boxes, so
    // the arrow crosses none. Arrows into one box arrive side by side.
    var into = {};
    L.arrows.forEach(function (arrow) { into[arrow[1]] = (into[arrow[1]] || 0) + 1; });
    var arrived = {};
    L.arrows.forEach(function (arrow, k) {
      var a = arrow[0], b = arrow[1], kind = arrow[2];
      var from = L.cols[a], to = L.cols[b];
      var n = into[b], j = arrived[b] = (arrived[b] || 0) + 1;
      var spread = n > 1 ? Math.min(6, (BOX_H - 6) / (n - 1)) : 0;
      var y1 = laneY(from.lane) + BOX_T + BOX_H / 2;
      var y2 = laneY(to.lane) + BOX_T + BOX_H / 2 + (j - 1 - (n - 1) / 2) * spread;
      var x1 = colX[a] + colW[a], x2 = colX[b];
      var head = kind === "self" ? "task" : kind;
      var d;
      if (x2 - x1 < GAP) {
        d = "M" + x1 + "," + y1 + " L" + x2 + "," + y2;
      } else {
        var out = x1 + GAP / 2 - 1 + (k % 3) - 1, back = x2 - GAP / 2 + 1;
        var channel = to.lane > from.lane ? laneY(from.lane + 1) : laneY(from.lane);
        channel += ((k % 5) - 2) * 1.5;
        d = "M" + x1 + "," + y1 + " H" + out + " V" + channel + " H" + back + " V" + y2 + " H" + x2;
      }
      s.push("<path class=\"arrow " + kind + "\" d=\"" + d + "\" marker-end=\"url(#head-" + head + ")\"/>");
    });
    var svg = byId("lanes-svg");
    svg.setAttribute("width", String(width));
    svg.setAttribute("height", String(height));
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.dataset.width = String(width);
    svg.innerHTML = s.join("");
    svg.addEventListener("click", function (e) {
      var turn = e.target.getAttribute && e.target.getAttribute("data-turn");
      if (turn === null || turn === undefined) { return; }
      showTurn(Number(turn));
      byId("stepper").scrollIntoView({ block: "start" });
    });
    byId("fit").addEventListener("click", function () { setFit(!fitted); });
  }

  // "Fit" draws every turn at once, the lanes and their labels scaled together to the
  // box; again, it goes back to full size.
  function setFit(on) {
    fitted = on;
    var svg = byId("lanes-svg"), labels = byId("lane-labels");
    labels.style.zoom = "";
    var full = Number(svg.dataset.width);
    var total = labels.offsetWidth + full;
    // A lanes box with no width yet (a window being resized can measure 0 wide) has
    // no room to fit into: keep the full size until it has.
    var room = byId("lanes-scroll").clientWidth - 2;
    var scale = on && room > 0 ? Math.min(1, room / total) : 1;
    labels.style.zoom = scale === 1 ? "" : String(scale);
    svg.setAttribute("width", String(full * scale));
    svg.setAttribute("height", String(Number(svg.getAttribute("viewBox").split(" ")[3]) * scale));
    var button = byId("fit");
    button.textContent = on ? "full size" : "fit all turns";
    button.setAttribute("aria-pressed", on ? "true" : "false");
    scrollLanesTo(current);
  }

  function markTurnInLanes(index) {
    var marked = document.querySelectorAll("#lanes-svg .current");
    for (var i = 0; i < marked.length; i++) {
      marked[i].setAttribute("class", marked[i].getAttribute("class").replace(/ current/g, ""));
    }
    var nodes = document.querySelectorAll("#lanes-svg [data-turn=\"" + index + "\"]");
    for (var j = 0; j < nodes.length; j++) {
      nodes[j].setAttribute("class", nodes[j].getAttribute("class") + " current");
    }
  }

  // Scrolls the lanes (not the page) so that turn `index` is in view, centred when it
  // was not: every step, key press and #turn-N comes here.
  function scrollLanesTo(index) {
    var span = turnSpan[index];
    var box = byId("lanes-scroll");
    if (!span || !box) { return; }
    var svg = byId("lanes-svg");
    var scale = Number(svg.getAttribute("width")) / Number(svg.dataset.width);
    var room = box.clientWidth - byId("lane-labels").getBoundingClientRect().width;
    var x0 = span.x0 * scale, x1 = span.x1 * scale;
    if (x0 >= box.scrollLeft && x1 <= box.scrollLeft + room) { return; }
    box.scrollLeft = Math.max(0, (x0 + x1) / 2 - room / 2);
  }

  // ---------------------------------------------------------------- self-test
  // With #opened in the address, the page only reports how long it took to open.
  function reportOpened() {
    var out = byId("selftest");
    out.textContent = JSON.stringify({
      opened_ms: openedMs,
      turns: DATA.turns.length,
      cols: DATA.lanes.cols.length,
      errors: errors.slice(),
    });
    out.hidden = false;
  }

  // With #selftest in the address, the page drives its own stepper with the arrow
  // keys and writes what it saw into #selftest: the browser test reads that back.
  function selfTest() {
    var shown = function () { return Number(byId("turn-title").dataset.turn); };
    var press = function (key) {
      document.dispatchEvent(new KeyboardEvent("keydown", { key: key, bubbles: true, cancelable: true }));
    };
    var result = {
      opened_ms: openedMs,
      turns: DATA.turns.length,
      completed_turns: DATA.completed_turns,
      tasks: DATA.tasks,
      lanes_in_page: document.querySelectorAll("#lane-labels [data-task]").length,
      polls_in_lanes: document.querySelectorAll("#lanes-svg rect.poll").length,
      arrows_in_lanes: document.querySelectorAll("#lanes-svg path.arrow").length,
    };
    showTurn(0);
    var seen = [shown()];
    var listed = DATA.turns.map(function (t) { return t.n; });
    var lit = 0, lines = 0, completedSeen = 0;
    for (var i = 0; i < DATA.turns.length; i++) {
      if (i > 0) { press("ArrowRight"); seen.push(shown()); }
      lit += document.querySelectorAll("#diagram .d-step.active").length > 0 ? 1 : 0;
      lines += document.querySelectorAll("#lines tr").length;
      if (DATA.turns[current].completed) { completedSeen += 1; }
    }
    result.seen = seen.length;
    result.reached_every_turn = seen.length === listed.length &&
      seen.every(function (n, k) { return n === listed[k]; });
    result.completed_turns_seen = completedSeen;
    result.turns_with_a_lit_step = lit;
    result.lines_shown = lines;
    var atEnd = shown();
    press("ArrowRight");
    result.stays_at_the_last_turn = shown() === atEnd;
    press("ArrowLeft");
    result.left_moves_back = shown() === listed[listed.length - 2];
    var before = shown();
    press("ArrowRight");
    result.right_moves_on = shown() === atEnd && before !== atEnd;
    result.errors = errors.slice();
    var out = byId("selftest");
    out.textContent = JSON.stringify(result);
    out.hidden = false;
  }

  drawSummary();
  drawLanes();
  wireStepper();
  // #turn-5 in the address opens the page at turn 5.
  var asked = /^#turn-(\d+)$/.exec(window.location.hash);
  showTurn(asked ? Number(asked[1]) - 1 : 0);
  window.addEventListener("hashchange", function () {
    var again = /^#turn-(\d+)$/.exec(window.location.hash);
    if (again) { showTurn(Number(again[1]) - 1); }
  });
  // A window made narrower or wider keeps the turn in view (and a fitted picture fitted).
  window.addEventListener("resize", function () {
    if (fitted) { setFit(true); } else { scrollLanesTo(current); }
  });
  // Milliseconds from the start of navigation to a drawn page: what "opens in" means.
  var openedMs = Math.round(performance.now());
  if (window.location.hash === "#selftest") { selfTest(); }
  if (window.location.hash === "#opened") { reportOpened(); }
})();
