// The script of a chainrule report. It only shows what the page's JSON holds: every number and
// every line of text was computed by chainrule from the recorded graph.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var svg = document.getElementById("graph");
  var steps = data.steps;
  var nForward = steps.filter(function (s) { return s.phase === "forward"; }).length;
  var nSteps = steps.length;
  var pos = 0; // 0: the whole graph; k > 0: step k - 1 is the current one
  var selected = null; // the clicked node, if any

  // When each node gets its value (forward ordinal) and its gradient (backward ordinal).
  var valueAt = data.nodes.map(function () { return 0; });
  var gradAt = data.nodes.map(function () { return 0; });
  steps.forEach(function (s, k) {
    if (s.phase === "forward") { valueAt[s.node] = k + 1; } else { gradAt[s.node] = k + 1; }
  });

  var nodeEls = data.nodes.map(function (_, i) { return document.getElementById("node" + i); });
  var edgeEls = data.edges.map(function (_, k) { return document.getElementById("edge" + k); });
  var labelEls = data.edges.map(function (_, k) { return document.getElementById("edge-label" + k); });
  // The text each box shows when its numbers are known, and while they are not.
  var texts = nodeEls.map(function (el) {
    var v = el.querySelector(".line-value");
    var g = el.querySelector(".line-grad");
    return { v: v, vText: v && v.textContent, g: g, gText: g && g.textContent };
  });

  function $(id) { return document.getElementById(id); }
  function clear(el) { while (el.firstChild) { el.removeChild(el.firstChild); } }
  function item(text, cls) {
    var li = document.createElement("li");
    li.textContent = text;
    if (cls) { li.className = cls; }
    return li;
  }

  function render() {
    var step = pos > 0 ? steps[pos - 1] : null;
    svg.classList.toggle("stepping", pos > 0);
    var hot = {};
    var hotClass = step ? (step.phase === "forward" ? "hot-forward" : "hot-backward") : "";
    // A clicked node's paths take over the drawing until it is let go.
    if (step && selected === null) { step.edges.forEach(function (k) { hot[k] = true; }); }
    var onPath = {};
    var pathNodes = {};
    if (selected !== null && data.paths[selected]) {
      data.paths[selected].list.forEach(function (p) {
        p.edges.forEach(function (k) {
          onPath[k] = true;
          pathNodes[data.edges[k].to] = true;
        });
      });
    }

    data.nodes.forEach(function (n, i) {
      var el = nodeEls[i];
      var computed = pos === 0 || n.kind === "constant" || valueAt[i] <= pos;
      var gradKnown = pos === 0 || n.kind === "constant" || (gradAt[i] > 0 && gradAt[i] <= pos);
      var t = texts[i];
      if (t.v) { t.v.textContent = computed ? t.vText : "value ?"; }
      if (t.g) { t.g.textContent = gradKnown ? t.gText : "grad ?"; }
      el.classList.toggle("pending", !computed);
      el.classList.toggle("current", !!step && step.node === i && selected === null);
      el.classList.toggle("selected", selected === i);
      el.classList.toggle("on-path", !!pathNodes[i] && selected !== i);
      var feeds = false, uses = false;
      if (step && selected === null) {
        step.edges.forEach(function (k) {
          if (step.phase === "forward" && data.edges[k].from === i) { feeds = true; }
          if (step.phase === "backward" && data.edges[k].to === i) { uses = true; }
        });
      }
      el.classList.toggle("input-of", feeds);
      el.classList.toggle("source", uses);
      el.setAttribute("data-shown-value", computed ? "true" : "false");
      el.setAttribute("data-shown-grad", gradKnown ? "true" : "false");
    });

    data.edges.forEach(function (e, k) {
      var el = edgeEls[k], label = labelEls[k];
      var isHot = !!hot[k];
      [el, label].forEach(function (x) {
        x.classList.toggle("hot-forward", isHot && hotClass === "hot-forward");
        x.classList.toggle("hot-backward", isHot && hotClass === "hot-backward");
        x.classList.toggle("on-path", !!onPath[k]);
      });
      var marker = isHot ? (hotClass === "hot-forward" ? "arrow-forward" : "arrow-backward")
        : onPath[k] ? "arrow-path" : "arrow";
      el.setAttribute("marker-end", "url(#" + marker + ")");
      label.classList.toggle("unknown", pos > 0 && valueAt[e.to] > pos);
    });

    renderStep(step);
    renderTranscript();
    renderPaths();
    $("btn-forward").disabled = pos >= nForward;
    $("btn-backward").disabled = pos >= nSteps;
    $("btn-prev").disabled = pos === 0;
    $("btn-reset").disabled = pos === 0 && selected === null;
  }

  function renderStep(step) {
    var panel = $("step-panel");
    var details = $("step-details");
    clear(details);
    if (!step) {
      panel.setAttribute("data-phase", "overview");
      panel.removeAttribute("data-node-id");
      panel.removeAttribute("data-number");
      $("step-counter").textContent = "Whole graph · " + nSteps + " steps to go";
      $("step-heading").textContent = "The whole graph";
      $("step-line").textContent = data.overview.line;
      data.overview.details.forEach(function (l) { details.appendChild(item(l)); });
      $("step-note").textContent = "Press Forward step (or →) to compute the graph node by node, " +
        "from the inputs to " + data.outputName + "; then Backward step to send the gradient back. " +
        "Click any node to see every path from it to " + data.outputName + ".";
      return;
    }
    var forward = step.phase === "forward";
    var k = forward ? pos : pos - nForward;
    var of = forward ? nForward : nSteps - nForward;
    var name = data.nodes[step.node].name;
    panel.setAttribute("data-phase", step.phase);
    panel.setAttribute("data-node-id", String(step.node));
    panel.setAttribute("data-number", String(forward ? step.value : step.grad));
    $("step-counter").textContent = (forward ? "Forward" : "Backward") + " pass · step " + k + " of " + of;
    $("step-heading").textContent = (forward ? "Forward pass: computing " : "Backward pass: gradient of ") +
      name + " (" + k + " of " + of + ")";
    $("step-line").textContent = step.line;
    step.details.forEach(function (l) { details.appendChild(item(l)); });
    $("step-note").textContent = step.note;
  }

  function renderTranscript() {
    var list = $("transcript");
    clear(list);
    if (pos === 0) {
      list.appendChild(item("(none yet: press Forward step)"));
      return;
    }
    for (var k = 0; k < pos; k++) {
      var li = item(steps[k].line, steps[k].phase + (k === pos - 1 ? " current" : ""));
      list.appendChild(li);
    }
    var cur = list.lastChild;
    if (cur && cur.scrollIntoView) { list.scrollTop = list.scrollHeight; }
  }

  function renderPaths() {
    var panel = $("paths-panel");
    focusPath(null);
    if (selected === null) {
      panel.hidden = true;
      panel.removeAttribute("data-node-id");
      return;
    }
    panel.hidden = false;
    panel.setAttribute("data-node-id", String(selected));
    var name = data.nodes[selected].name;
    var list = $("paths-list");
    clear(list);
    var p = data.paths[selected];
    if (!p) {
      $("paths-heading").textContent = name + " is a constant";
      panel.setAttribute("data-count", "0");
      $("paths-sum").textContent = "";
      $("paths-note").textContent = "No gradient flows into a constant: nothing can change it.";
      return;
    }
    panel.setAttribute("data-count", String(p.count));
    panel.setAttribute("data-complete", String(p.complete));
    panel.setAttribute("data-sum", String(p.sum));
    panel.setAttribute("data-grad", String(p.grad));
    $("paths-heading").textContent = "Paths from " + name + " to " + data.outputName + " (" + p.countText + ")";
    p.list.forEach(function (path) {
      var li = document.createElement("li");
      li.className = "path";
      li.setAttribute("data-contribution", String(path.contribution));
      var chain = document.createElement("div");
      chain.className = "chain";
      chain.textContent = path.chain;
      var product = document.createElement("div");
      product.className = "product";
      product.textContent = path.factors + " = " + path.numbers + " = " + path.contributionText;
      li.appendChild(chain);
      li.appendChild(product);
      // Pointing at a path picks it out of the others on the drawing.
      li.addEventListener("mouseenter", function () { focusPath(path.edges); });
      li.addEventListener("mouseleave", function () { focusPath(null); });
      list.appendChild(li);
    });
    $("paths-sum").textContent = p.sumText;
    $("paths-note").textContent = p.note;
  }

  function focusPath(edges) {
    svg.classList.toggle("path-hover", !!edges);
    edgeEls.forEach(function (el, k) {
      var on = !!edges && edges.indexOf(k) >= 0;
      el.classList.toggle("path-focus", on);
      labelEls[k].classList.toggle("path-focus", on);
    });
  }

  function go(to) {
    pos = Math.max(0, Math.min(nSteps, to));
    render();
  }
  function select(i) {
    selected = selected === i ? null : i;
    render();
  }

  $("btn-forward").addEventListener("click", function () { if (pos < nForward) { go(pos + 1); } });
  $("btn-backward").addEventListener("click", function () {
    go(pos < nForward ? nForward + 1 : pos + 1);
  });
  $("btn-prev").addEventListener("click", function () { go(pos - 1); });
  $("btn-reset").addEventListener("click", function () { selected = null; go(0); });
  nodeEls.forEach(function (el, i) {
    el.addEventListener("click", function () { select(i); });
    el.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); select(i); }
    });
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) { return; }
    if (ev.key === "ArrowRight") { ev.preventDefault(); go(pos + 1); }
    else if (ev.key === "ArrowLeft") { ev.preventDefault(); go(pos - 1); }
    else if (ev.key === "Home") { ev.preventDefault(); go(0); }
    else if (ev.key === "Escape") { selected = null; render(); }
  });
  render();
})();
