// Drives `chainrule report` pages in a headless Chromium: steps through the whole forward and
// backward pass, checks every number shown against `chainrule grad --json`, clicks nodes and
// checks that the contributions of their paths add up to their gradients, and fails on any
// console error or any request that leaves the file.
//
// Environment:
//   CHAINRULE_BIN          the chainrule binary (required)
//   CHROMIUM               the browser (default /usr/bin/chromium)
//   CHAINRULE_SCREENSHOTS  where to save screenshots (default: a fresh temporary directory)

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const bin = process.env.CHAINRULE_BIN;
if (!bin) {
  console.error("set CHAINRULE_BIN to the chainrule binary");
  process.exit(2);
}
const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
const work = fs.mkdtempSync(path.join(os.tmpdir(), "chainrule-report-"));
const shots = process.env.CHAINRULE_SCREENSHOTS || path.join(work, "screenshots");
fs.mkdirSync(shots, { recursive: true });

const cases = [
  { name: "seed", expr: "3*x^2+1", at: "x=2" },
  { name: "loss", expr: "(w*x-y)^2", at: "w=1,x=2,y=5" },
  { name: "square", expr: "x*x", at: "x=3" },
  { name: "shared", expr: "sin(x*y) + x*exp(y) - x/y", at: "x=0.5,y=-1.25" },
  { name: "identity", expr: "x", at: "x=5" },
  { name: "constant", expr: "2^3 + 1", at: "" },
];

/** Numbers agree to the 6 significant digits the page's text shows. */
function close(shown, exact) {
  return Math.abs(shown - exact) <= 1e-5 * Math.max(1, Math.abs(exact));
}

/** The last number of a line such as `df/dx = df/dv1 · ∂v1/∂x = 3 · 4 = 12`. */
function lastNumber(line) {
  const tail = line.slice(line.lastIndexOf(" = ") + 3).trim();
  return Number(tail.replace(/^\((.*)\)$/, "$1"));
}

async function attrs(page, selector, names) {
  return page.$$eval(
    selector,
    (els, names) => els.map((el) => Object.fromEntries(names.map((n) => [n, el.getAttribute(n)]))),
    names,
  );
}

async function panel(page) {
  return page.$eval("#step-panel", (el) => ({
    phase: el.getAttribute("data-phase"),
    node: el.getAttribute("data-node-id"),
    number: el.getAttribute("data-number"),
    line: document.getElementById("step-line").textContent,
    heading: document.getElementById("step-heading").textContent,
    visible: el.getBoundingClientRect().height > 0,
  }));
}

async function runCase(browser, c) {
  const file = path.join(work, `${c.name}.html`);
  const at = c.at ? ["--at", c.at] : [];
  execFileSync(bin, ["report", c.expr, ...at, "-o", file]);
  const expected = JSON.parse(execFileSync(bin, ["grad", c.expr, ...at, "--json"], { encoding: "utf8" }));

  const page = await browser.newPage();
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("request", (r) => {
    const url = r.url();
    if (!url.startsWith("file:") && !url.startsWith("data:")) problems.push(`request to ${url}`);
  });
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
  await page.goto(pathToFileURL(file).href);

  const title = await page.textContent("#report-title");
  assert.ok(title.includes(c.expr), `title ${title} names ${c.expr}`);
  const nodes = await attrs(page, "#graph .node", ["data-node-id", "data-name", "data-kind", "data-value", "data-grad"]);
  const edges = await attrs(page, "#graph .edge", ["data-edge-id", "data-from", "data-to", "data-local"]);
  const byId = new Map(nodes.map((n) => [n["data-node-id"], n]));
  const output = nodes.find((n) => n["data-kind"] === "output");
  assert.equal(Number(output["data-value"]), expected.value, "the output's value is grad's value");
  for (const [name, g] of Object.entries(expected.gradient)) {
    const node = nodes.find((n) => n["data-name"] === name);
    assert.ok(node, `a node for ${name}`);
    assert.equal(Number(node["data-grad"]), g, `the drawn gradient of ${name} is grad's`);
  }

  let p = await panel(page);
  assert.equal(p.phase, "overview");
  assert.ok(p.visible);
  await page.screenshot({ path: path.join(shots, `${c.name}-0-overview.png`) });

  // The forward pass, one node at a time, with the Forward step button.
  const forwardSeen = [];
  while (!(await page.isDisabled("#btn-forward"))) {
    await page.click("#btn-forward");
    p = await panel(page);
    assert.equal(p.phase, "forward");
    const node = byId.get(p.node);
    forwardSeen.push(node["data-name"]);
    assert.equal(Number(p.number), Number(node["data-value"]), `forward step of ${node["data-name"]} shows its value`);
    assert.ok(p.line.startsWith(node["data-name"] + " = "), p.line);
    const shown = p.line.endsWith("(input)") ? Number(p.line.split(" = ")[1].split(" ")[0]) : lastNumber(p.line);
    assert.ok(close(shown, Number(node["data-value"])), `${p.line} vs ${node["data-value"]}`);
    // Edges into the node are highlighted, and only those.
    const hot = await attrs(page, "#graph .edge.hot-forward", ["data-from", "data-to"]);
    const into = edges.filter((e) => e["data-to"] === p.node);
    assert.equal(hot.length, into.length, `highlighted inputs of ${node["data-name"]}`);
    assert.ok(hot.every((e) => e["data-to"] === p.node));
    const valueText = await page.$eval(`#node${p.node} .line-value`, (el) => el.textContent);
    assert.ok(!valueText.includes("?"), `the current node shows its value: ${valueText}`);
    if (forwardSeen.length === 2) {
      await page.screenshot({ path: path.join(shots, `${c.name}-1-forward.png`) });
    }
  }
  assert.equal(forwardSeen[forwardSeen.length - 1], output["data-name"], "the forward pass ends at the output");
  for (const name of Object.keys(expected.gradient)) assert.ok(forwardSeen.includes(name));
  assert.equal(Number(p.number), expected.value);

  // The backward pass: the Backward step button, then the right arrow key.
  const backwardSeen = [];
  let useKeys = false;
  for (;;) {
    if (useKeys) {
      await page.keyboard.press("ArrowRight");
    } else {
      await page.click("#btn-backward");
    }
    useKeys = !useKeys;
    p = await panel(page);
    assert.equal(p.phase, "backward");
    const node = byId.get(p.node);
    const name = node["data-name"];
    backwardSeen.push(name);
    assert.equal(Number(p.number), Number(node["data-grad"]), `backward step of ${name} shows its gradient`);
    assert.ok(p.line.startsWith(`d${output["data-name"]}/d${name} = `), p.line);
    assert.ok(close(lastNumber(p.line), Number(node["data-grad"])), `${p.line} vs ${node["data-grad"]}`);
    if (name in expected.gradient) {
      assert.equal(Number(p.number), expected.gradient[name], `d/d${name} agrees with grad --json`);
    }
    const hot = await attrs(page, "#graph .edge.hot-backward", ["data-from", "data-to"]);
    const uses = edges.filter((e) => e["data-from"] === p.node);
    assert.equal(hot.length, uses.length, `highlighted uses of ${name}`);
    if (node["data-kind"] !== "output") assert.ok(hot.length > 0, `the edge used for ${name} is highlighted`);
    if (backwardSeen.length === 3 || (backwardSeen.length < 3 && (await page.isDisabled("#btn-backward")))) {
      await page.screenshot({ path: path.join(shots, `${c.name}-2-backward.png`) });
    }
    if (await page.isDisabled("#btn-backward")) break;
  }
  assert.equal(backwardSeen[0], output["data-name"], "the backward pass starts at the output");
  assert.deepEqual([...backwardSeen].sort(), [...forwardSeen].sort(), "both passes visit the same nodes");
  // Every gradient is now on the drawing.
  for (const n of nodes.filter((n) => n["data-kind"] !== "constant")) {
    const text = await page.$eval(`#node${n["data-node-id"]} .line-grad`, (el) => el.textContent);
    assert.ok(text.startsWith("grad ") && close(Number(text.slice(5)), Number(n["data-grad"])), text);
  }
  const transcript = await page.$$eval("#transcript li", (lis) => lis.length);
  assert.equal(transcript, forwardSeen.length + backwardSeen.length);

  // Paths: click every node that has a gradient.
  for (const n of nodes.filter((n) => n["data-kind"] !== "constant")) {
    await page.click(`#node${n["data-node-id"]}`);
    const info = await page.$eval("#paths-panel", (el) => ({
      hidden: el.hidden,
      node: el.getAttribute("data-node-id"),
      count: Number(el.getAttribute("data-count")),
      complete: el.getAttribute("data-complete"),
      grad: Number(el.getAttribute("data-grad")),
      contributions: [...el.querySelectorAll("#paths-list li")].map((li) => Number(li.getAttribute("data-contribution"))),
      sumText: document.getElementById("paths-sum").textContent,
    }));
    assert.equal(info.hidden, false);
    assert.equal(info.node, n["data-node-id"]);
    assert.equal(info.complete, "true");
    assert.equal(info.contributions.length, info.count);
    assert.equal(info.grad, Number(n["data-grad"]));
    const sum = info.contributions.reduce((a, b) => a + b, 0);
    const scale = info.contributions.reduce((a, b) => a + Math.abs(b), 0);
    assert.ok(Math.abs(sum - info.grad) <= 1e-12 * Math.max(1, scale), `paths of ${n["data-name"]}: ${sum} vs ${info.grad}`);
    if (n["data-name"] in expected.gradient) {
      assert.ok(Math.abs(sum - expected.gradient[n["data-name"]]) <= 1e-12 * Math.max(1, scale));
    }
    const lit = await page.$$eval("#graph .edge.on-path", (els) => els.length);
    if (n["data-kind"] !== "output") assert.ok(lit > 0, "the paths are drawn");
    if (info.count > 1) {
      // Pointing at one path picks out its edges.
      await page.hover("#paths-list li:nth-child(2)");
      const focused = await page.$$eval("#graph .edge.path-focus", (els) => els.length);
      assert.ok(focused > 0 && focused <= lit, `hovering a path of ${n["data-name"]} picks it out`);
    }
    if (n["data-name"] === Object.keys(expected.gradient)[0]) {
      await page.screenshot({ path: path.join(shots, `${c.name}-3-paths.png`) });
    }
  }
  await page.keyboard.press("Escape");
  assert.equal(await page.$eval("#paths-panel", (el) => el.hidden), true);

  // Previous goes back one step and Reset to the whole graph; the arrow keys and Home do the same.
  const before = await page.textContent("#step-counter");
  await page.click("#btn-prev");
  assert.notEqual(await page.textContent("#step-counter"), before);
  await page.click("#btn-reset");
  p = await panel(page);
  assert.equal(p.phase, "overview");
  assert.equal(await page.$$eval("#graph .edge.hot-forward, #graph .edge.hot-backward", (e) => e.length), 0);
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowLeft");
  p = await panel(page);
  assert.equal(p.phase, "forward");
  assert.equal(p.node, nodes.find((n) => n["data-name"] === forwardSeen[0])["data-node-id"]);
  await page.keyboard.press("Home");
  assert.equal((await panel(page)).phase, "overview");

  assert.deepEqual(problems, [], `${c.name}: no console errors and no outside requests`);
  await page.close();
  console.log(`ok ${c.name}: ${forwardSeen.length} forward and ${backwardSeen.length} backward steps, ${nodes.length} nodes`);
}

// A fresh profile each run; Playwright takes it as the persistent context's directory (it is
// Chromium's --user-data-dir).
const browser = await chromium.launchPersistentContext(path.join(work, "profile"), {
  executablePath: browserPath,
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
/** The page of `train --report`: static, but it must render, stay inside the file, and agree
 * with the run's `--json` numbers. */
async function trainingPage(browser) {
  const file = path.join(work, "training.html");
  const out = execFileSync(bin, ["train", "--data", "iris", "--epochs", "4", "--report", file, "--json"], {
    encoding: "utf8",
  });
  const expected = JSON.parse(out);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on("console", (m) => problems.push(`console ${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("request", (r) => {
    const url = r.url();
    if (!url.startsWith("file:") && !url.startsWith("data:")) problems.push(`request to ${url}`);
  });
  await page.goto(pathToFileURL(file).href);
  const metrics = await page.$$eval("#metrics tr", (rows) =>
    Object.fromEntries(rows.map((r) => [...r.cells].map((c) => c.textContent.trim())).filter((r) => r.length === 2)),
  );
  // The page shows four decimals.
  const shown = (name, exact) => {
    const v = parseFloat(metrics[name]);
    assert.ok(Math.abs(v - exact) <= 5e-5, `${name}: page ${metrics[name]}, --json ${exact}`);
  };
  shown("test accuracy", expected.test_accuracy);
  shown("training accuracy", expected.train_accuracy);
  shown("training loss", expected.train_loss);
  const epochs = await page.$$eval("#history tr", (rows) => rows.filter((r) => r.querySelector("td")).length);
  assert.equal(epochs, expected.epochs, "one history row per epoch");
  const charts = await page.$$eval("svg", (svgs) => svgs.map((s) => s.getBoundingClientRect()));
  assert.ok(charts.length >= 2, "the curves and the gradient flow are drawn");
  for (const r of charts) assert.ok(r.width > 300 && r.height > 200, `a chart of ${r.width}×${r.height}`);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 1280, `no horizontal scrolling at 1280 px (page is ${width} px wide)`);
  await page.screenshot({ path: path.join(shots, "training.png"), fullPage: true });
  assert.deepEqual(problems, [], "training page: no console messages and no outside requests");
  await page.close();
  console.log(`ok training page: ${epochs} epochs, ${charts.length} charts`);
}

let failed = false;
try {
  for (const c of cases) {
    try {
      await runCase(browser, c);
    } catch (e) {
      failed = true;
      console.error(`FAIL ${c.name}: ${e.stack || e}`);
    }
  }
  try {
    await trainingPage(browser);
  } catch (e) {
    failed = true;
    console.error(`FAIL training page: ${e.stack || e}`);
  }
} finally {
  await browser.close();
}
console.log(`screenshots in ${shots}`);
process.exit(failed ? 1 : 0);
