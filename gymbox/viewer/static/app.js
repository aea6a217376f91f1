// gymbox view: a hash-routed page over the viewer's JSON API. Every piece of rollout text is set as
// text (never as HTML), since it is whatever a model wrote.
"use strict";

const main = document.getElementById("main");
const runSelect = document.getElementById("run-select");
let runs = [];

// ---------------------------------------------------------------- helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "style") el.style.cssText = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

async function api(path) {
  const response = await fetch(path);
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail ? JSON.stringify(body.detail) : response.statusText);
  return body;
}

const fmt = (x, digits = 3) => (x === null || x === undefined ? "–" : typeof x === "number" ? (Number.isInteger(x) ? x.toLocaleString() : x.toFixed(digits)) : String(x));
const seconds = (x) => (x === null || x === undefined ? "–" : x < 1 ? `${(x * 1000).toFixed(0)} ms` : `${x.toFixed(2)} s`);
const num3 = (x) => (x === null || x === undefined ? "–" : x.toFixed(3));
const pct = (x) => (x === null || x === undefined ? "–" : `${(x * 100).toFixed(1)}%`);

function rewardCell(x) {
  if (x === null || x === undefined) return h("span", { class: "muted" }, "–");
  const cls = x >= 0.999 ? "hi" : x <= 0.001 ? "lo" : "mid";
  return h("span", { class: `reward ${cls}` }, x.toFixed(3));
}

function rewardBar(x) {
  const width = x === null || x === undefined ? 0 : Math.max(0, Math.min(1, x)) * 100;
  return h("span", { class: "bar" }, h("i", { style: `width:${width}%` }));
}

const badge = (status, count) => h("span", { class: `badge ${status}` }, count === undefined ? status : `${status} ${count}`);

function deltaCell(x) {
  if (x === null || x === undefined) return h("span", { class: "muted" }, "–");
  const cls = x > 1e-9 ? "up" : x < -1e-9 ? "down" : "";
  return h("span", { class: `delta ${cls}` }, `${x > 0 ? "+" : ""}${x.toFixed(3)}`);
}

function constantFlag(task) {
  if (!task.constant) return null;
  const what = task.max_reward === 0 ? "all 0" : task.min_reward >= 1 ? "all 1" : `all ${fmt(task.min_reward)}`;
  return h("span", { class: "badge flag", title: "reward never varies across repeats: no training signal" }, `constant · ${what}`);
}

function card(label, value, sub) {
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value), sub ? h("div", { class: "sub" }, sub) : null);
}

function table(headers, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, headers)), h("tbody", {}, rows));
}

function params() {
  const [, query = ""] = location.hash.split("?");
  return new URLSearchParams(query);
}

function setActive(name) {
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.nav === name);
}

function show(...nodes) {
  main.replaceChildren(...nodes);
}

// ---------------------------------------------------------------- pages

async function overviewPage(run) {
  setActive("overview");
  const o = await api(`/api/runs/${run}/overview`);
  const info = runs[run];
  const k = o.k;
  const constants = o.constant_tasks;
  const constantTotal = constants.all_zero + constants.all_pass + constants.other;
  const hist = o.histogram;
  const peak = Math.max(1, ...hist.counts);
  const step = (hist.hi - hist.lo) / hist.counts.length;
  const groupRows = (groups) =>
    Object.entries(groups).map(([name, g]) =>
      h("tr", {}, h("td", {}, name), h("td", { class: "num" }, fmt(g.tasks)), h("td", { class: "num" }, fmt(g.rollouts)),
        h("td", { class: "num" }, rewardCell(g.mean_reward), rewardBar(g.mean_reward)), h("td", { class: "num" }, pct(g["pass@1"])),
        h("td", { class: "num" }, fmt(g.constant_tasks))));
  const groupHead = (first) => [first, "tasks", "rollouts", "mean reward", "pass@1", "constant tasks"].map((t, i) => h("th", { class: i ? "num" : "" }, t));
  show(
    h("div", { class: "crumbs" }, info.path),
    h("h1", {}, "Run overview"),
    h("div", { class: "grid cards" },
      card("Rollouts", fmt(o.rollouts), `${fmt(o.failed)} failed`),
      card("Tasks", fmt(o.tasks), `k = ${k} repeats`),
      card("Mean reward", num3(o.mean_reward), `σ ${num3(o.std_reward)}`),
      card("pass@1", pct(o["pass@1"]), `a pass: reward ≥ ${o.pass_threshold}`),
      card(`pass@${k}`, pct(o[`pass@${k}`]), "unbiased estimate"),
      card("Constant tasks", fmt(constantTotal), `${constants.all_zero} all 0 · ${constants.all_pass} all pass`),
    ),
    h("div", { class: "grid two" },
      h("div", { class: "panel" }, h("h2", {}, "Reward histogram"),
        h("div", { class: "muted" }, `${fmt(o.rollouts)} scored rollouts in ${hist.counts.length} bins`),
        h("div", { class: "hist", id: "histogram" },
          hist.counts.map((c, i) => h("div", { style: `height:${(100 * c) / peak}%`, title: `${fmt(hist.lo + i * step, 2)}–${fmt(hist.lo + (i + 1) * step, 2)}: ${c}` }))),
        h("div", { class: "hist-axis" }, h("span", {}, fmt(hist.lo, 2)), h("span", {}, fmt((hist.lo + hist.hi) / 2, 2)), h("span", {}, fmt(hist.hi, 2)))),
      h("div", { class: "panel" }, h("h2", {}, "Statuses and latency"),
        h("div", {}, Object.entries(o.status_counts).map(([s, n]) => badge(s, n))),
        h("h2", { style: "margin-top:14px" }, "Failures by kind"),
        Object.keys(o.failures).length ? h("div", {}, Object.entries(o.failures).map(([s, n]) => badge(s, n))) : h("div", { class: "muted" }, "none"),
        h("h2", { style: "margin-top:14px" }, "Latency per rollout"),
        h("dl", { class: "kv" }, ["p50", "p90", "p99", "max"].flatMap((p) => [h("dt", {}, p), h("dd", {}, seconds(o.latency_s[p]))])))),
    h("div", { class: "panel" }, h("h2", {}, "Per environment"), table(groupHead("environment"), groupRows(o.per_environment))),
    h("div", { class: "panel" }, h("h2", {}, "Per agent"), table(groupHead("agent"), groupRows(o.per_agent))),
  );
}

const TASK_FILTERS = ["environment", "status", "min_reward", "max_reward", "q", "constant", "sort", "desc", "offset"];

async function tasksPage(run) {
  setActive("tasks");
  const query = params();
  const info = runs[run];
  const sort = query.get("sort") || "index";
  const desc = query.get("desc") === "true";
  const offset = Number(query.get("offset") || 0);
  const apiQuery = new URLSearchParams();
  for (const key of TASK_FILTERS) if (query.get(key)) apiQuery.set(key, query.get(key));
  apiQuery.set("limit", "100");
  const page = await api(`/api/runs/${run}/tasks?${apiQuery}`);

  const go = (changes) => {
    const next = new URLSearchParams(query);
    for (const [key, value] of Object.entries(changes)) value === "" || value === null ? next.delete(key) : next.set(key, value);
    if (!("offset" in changes)) next.delete("offset");
    location.hash = `#/r/${run}/tasks?${next}`;
  };
  const select = (name, label, options) =>
    h("label", {}, label, h("select", { name, onchange: (e) => go({ [name]: e.target.value }) },
      options.map(([value, text]) => h("option", { value, selected: (query.get(name) || "") === value }, text))));
  const number = (name, label) =>
    h("label", {}, label, h("input", { class: "narrow", type: "number", step: "0.1", name, value: query.get(name) || "", onchange: (e) => go({ [name]: e.target.value }) }));
  const sortHeader = (key, label) => {
    const active = sort === key;
    return h("th", { class: `num sortable${active ? " sorted" : ""}${active && !desc ? " asc" : ""}`, "data-sort": key,
      onclick: () => go({ sort: key, desc: active ? String(!desc) : "true" }) }, label);
  };
  const rows = page.tasks.map((t) =>
    h("tr", { class: "clickable", onclick: () => (location.hash = `#/r/${run}/task/${t.id}`) },
      h("td", { class: "num" }, t.task_index), h("td", {}, t.environment),
      h("td", { class: "prompt", title: t.prompt }, t.prompt || h("span", { class: "muted" }, t.task_key)),
      h("td", { class: "num" }, t.rollouts), h("td", { class: "num" }, rewardCell(t.mean_reward), rewardBar(t.mean_reward)),
      h("td", { class: "num" }, num3(t.variance)),
      h("td", {}, Object.entries(t.statuses).map(([s, n]) => badge(s, n))), h("td", {}, constantFlag(t))));
  show(
    h("div", { class: "crumbs" }, info.path),
    h("h1", {}, "Tasks"),
    h("form", { class: "filters", onsubmit: (e) => {
      e.preventDefault();
      const form = e.target;  // every field at once: Enter in a number box submits before its change event
      go(Object.fromEntries(["q", "environment", "status", "min_reward", "max_reward", "constant"].map((k) => [k, form[k].value.trim()])));
    } },
      h("label", {}, "search", h("input", { type: "search", name: "q", placeholder: "prompt, task key, environment…", value: query.get("q") || "" })),
      select("environment", "environment", [["", "all"], ...info.environments.map((e) => [e, e])]),
      select("status", "has status", [["", "any"], ...info.statuses.map((s) => [s, s])]),
      number("min_reward", "mean reward ≥"),
      number("max_reward", "mean reward ≤"),
      select("constant", "signal", [["", "all tasks"], ["true", "constant reward"], ["false", "reward varies"]]),
      h("button", { type: "submit" }, "Apply"),
      h("button", { type: "button", onclick: () => (location.hash = `#/r/${run}/tasks`) }, "Clear")),
    h("div", { class: "panel" },
      table([sortHeader("index", "#"), h("th", {}, "environment"), h("th", {}, "prompt"), sortHeader("rollouts", "rollouts"),
        sortHeader("mean", "mean reward"), sortHeader("variance", "variance"), h("th", {}, "statuses"), h("th", {}, "signal")], rows),
      page.total ? null : h("p", { class: "muted" }, "No task matches these filters."),
      h("div", { class: "pager" },
        h("button", { disabled: offset === 0, onclick: () => go({ offset: String(Math.max(0, offset - 100)) }) }, "‹ Previous"),
        h("span", { id: "task-count" }, `${page.total ? offset + 1 : 0}–${offset + page.tasks.length} of ${fmt(page.total)} tasks`),
        h("button", { disabled: offset + 100 >= page.total, onclick: () => go({ offset: String(offset + 100) }) }, "Next ›"))),
  );
}

async function taskPage(run, taskId) {
  setActive("tasks");
  const t = await api(`/api/runs/${run}/tasks/${taskId}`);
  show(
    h("div", { class: "crumbs" }, h("a", { href: `#/r/${run}/tasks` }, "Tasks"), ` › task ${t.task_index}`),
    h("h1", {}, `Task ${t.task_index} `, constantFlag(t)),
    h("div", { class: "grid cards" },
      card("Mean reward", num3(t.mean_reward), `variance ${num3(t.variance)}`),
      card("Rollouts", fmt(t.rollouts), `${t.passes} passed`),
      card("Environment", t.environment, t.agent)),
    h("div", { class: "panel" }, h("h2", {}, "Prompt"), h("div", { class: "text" }, t.prompt), h("div", { class: "muted" }, `task key ${t.task_key}`)),
    h("div", { class: "panel" }, h("h2", {}, "Rollouts"),
      table(["repeat", "status", "reward", "latency"].map((x, i) => h("th", { class: i > 1 ? "num" : "" }, x)),
        t.rows.map((r) => h("tr", { class: "clickable", onclick: () => (location.hash = `#/r/${run}/rollout/${r.row_id}`) },
          h("td", {}, r.repeat), h("td", {}, badge(r.status)), h("td", { class: "num" }, rewardCell(r.reward)), h("td", { class: "num" }, seconds(r.latency_s)))))),
  );
}

function json(value) {
  return h("pre", {}, typeof value === "string" ? value : JSON.stringify(value, null, 2));
}

function turnView(turn) {
  if (turn.kind === "message") return h("div", { class: `turn ${turn.role}` }, h("div", { class: "who" }, turn.role), h("div", { class: "text" }, turn.text));
  if (turn.kind === "reasoning") return h("div", { class: "turn reasoning" }, h("div", { class: "who" }, "reasoning"), h("div", { class: "text" }, turn.text));
  if (turn.kind === "tool_call")
    return h("div", { class: "turn tool_call" },
      h("div", { class: "who" }, "tool call ", h("span", { class: "tool-name" }, turn.name)),
      h("div", { class: "io-label" }, "arguments"), json(turn.arguments),
      h("div", { class: "io-label" }, "output"), turn.output === null ? h("div", { class: "muted" }, "no output") : json(turn.output));
  if (turn.kind === "tool_output") return h("div", { class: "turn tool_call" }, h("div", { class: "who" }, "tool output"), json(turn.output));
  return h("div", { class: "turn" }, h("div", { class: "who" }, "item"), json(turn.text));
}

async function rolloutPage(run, rowId) {
  setActive("tasks");
  const r = await api(`/api/runs/${run}/rollouts/${rowId}`);
  const siblings = (await api(`/api/runs/${run}/tasks/${r.task_id}`)).rows;
  const at = siblings.findIndex((x) => x.row_id === rowId);
  const step = (d) => {
    const other = siblings[at + d];
    return h("button", { disabled: !other, onclick: () => (location.hash = `#/r/${run}/rollout/${other.row_id}`) },
      d < 0 ? "‹ Previous repeat" : "Next repeat ›");
  };
  const v = r.verify;
  const meta = r.meta;
  const sideRows = [["task", meta.task_index], ["repeat", meta.repeat], ["agent", meta.agent], ["model", r.model],
    ["attempts", meta.attempts], ["latency", seconds(meta.latency_s)], ["tools", r.tools.join(", ")],
    ["tokens", r.usage ? `${r.usage.input_tokens ?? "?"} in · ${r.usage.output_tokens ?? "?"} out` : null]];
  show(
    h("div", { class: "crumbs" }, h("a", { href: `#/r/${run}/tasks` }, "Tasks"), " › ", h("a", { href: `#/r/${run}/task/${r.task_id}` }, `task ${meta.task_index}`), ` › repeat ${meta.repeat}`),
    h("h1", {}, `Rollout · task ${meta.task_index} · repeat ${meta.repeat}`),
    h("div", { class: "nav-rollouts" }, step(-1), h("span", { class: "muted", style: "align-self:center" }, `${at + 1} of ${siblings.length} rollouts of this task`), step(1)),
    h("div", { class: "layout" },
      h("div", { id: "conversation" }, r.turns.map(turnView)),
      h("div", { class: "side" },
        h("div", { class: "verify", id: "verify" },
          h("h2", {}, "Verifier"),
          h("div", { class: "io-label" }, "reward"),
          h("div", { class: "big" }, rewardCell(v.reward)), h("div", {}, badge(v.status)),
          v.error ? h("div", { class: "error", style: "margin-top:8px" }, v.error) : null,
          Object.keys(v.extras).length ? h("div", {}, h("div", { class: "io-label" }, "verifier fields"),
            h("dl", { class: "kv" }, Object.entries(v.extras).flatMap(([k, x]) => [h("dt", {}, k), h("dd", {}, typeof x === "object" ? JSON.stringify(x) : String(x))]))) : null),
        h("div", { class: "panel", style: "margin-top:16px" }, h("h2", {}, "Details"),
          h("dl", { class: "kv" }, sideRows.filter(([, x]) => x !== null && x !== undefined && x !== "").flatMap(([k, x]) => [h("dt", {}, k), h("dd", {}, String(x))]))),
        Object.keys(r.task).length ? h("div", { class: "panel" }, h("h2", {}, "Task fields"), json(r.task)) : null,
        h("details", { class: "panel" }, h("summary", {}, "raw row"), json(r.raw)))),
  );
}

async function comparePage() {
  setActive("compare");
  const query = params();
  if (runs.length < 2) {
    show(h("h1", {}, "Compare runs"), h("p", { class: "muted" }, "Pass two rollouts files to `gymbox view` to compare them."));
    return;
  }
  const a = Number(query.get("a") ?? 0);
  const b = Number(query.get("b") ?? 1);
  const offset = Number(query.get("offset") || 0);
  const q = query.get("q") || "";
  const c = await api(`/api/compare?a=${a}&b=${b}&offset=${offset}&limit=100&q=${encodeURIComponent(q)}`);
  const go = (changes) => {
    const next = new URLSearchParams({ a, b, q, ...changes });
    if (!("offset" in changes)) next.delete("offset");
    location.hash = `#/compare?${next}`;
  };
  const pick = (name, value) =>
    h("select", { name, onchange: (e) => go({ [name]: e.target.value }) }, runs.map((r) => h("option", { value: r.id, selected: r.id === value }, r.name)));
  show(
    h("h1", {}, "Compare runs"),
    h("form", { class: "filters", onsubmit: (e) => {
      e.preventDefault();
      const form = e.target;  // every field at once: Enter in a number box submits before its change event
      go(Object.fromEntries(["q", "environment", "status", "min_reward", "max_reward", "constant"].map((k) => [k, form[k].value.trim()])));
    } },
      h("label", {}, "run A", pick("a", a)), h("label", {}, "run B", pick("b", b)),
      h("label", {}, "search", h("input", { type: "search", name: "q", value: q, placeholder: "prompt, task key…" })),
      h("button", { type: "submit" }, "Apply")),
    h("div", { class: "grid cards" },
      card("A · mean reward", num3(c.a.mean_reward), c.a.name), card("B · mean reward", num3(c.b.mean_reward), c.b.name),
      card("Δ mean reward", deltaCell(c.delta), "B − A"), card("Shared tasks", fmt(c.shared_tasks), `${c.improved} improved · ${c.regressed} regressed`)),
    h("div", { class: "panel" }, h("h2", {}, "Per environment"),
      table(["environment", "tasks", "A", "B", "Δ", "improved", "regressed"].map((x, i) => h("th", { class: i ? "num" : "" }, x)),
        Object.entries(c.per_environment).map(([name, e]) => h("tr", {}, h("td", {}, name), h("td", { class: "num" }, e.tasks),
          h("td", { class: "num" }, rewardCell(e.mean_a)), h("td", { class: "num" }, rewardCell(e.mean_b)), h("td", { class: "num" }, deltaCell(e.delta)),
          h("td", { class: "num" }, e.improved), h("td", { class: "num" }, e.regressed))))),
    h("div", { class: "panel" }, h("h2", {}, "Per task, largest change first"),
      table(["#", "environment", "prompt", "A", "B", "Δ"].map((x, i) => h("th", { class: i >= 3 || i === 0 ? "num" : "" }, x)),
        c.tasks.map((t) => h("tr", { class: "clickable", onclick: () => (location.hash = `#/r/${b}/task/${t.id_b}`) },
          h("td", { class: "num" }, t.task_index), h("td", {}, t.environment), h("td", { class: "prompt", title: t.prompt }, t.prompt),
          h("td", { class: "num" }, rewardCell(t.mean_a)), h("td", { class: "num" }, rewardCell(t.mean_b)), h("td", { class: "num" }, deltaCell(t.delta))))),
      h("div", { class: "pager" },
        h("button", { disabled: offset === 0, onclick: () => go({ offset: String(Math.max(0, offset - 100)) }) }, "‹ Previous"),
        h("span", {}, `${c.total ? offset + 1 : 0}–${offset + c.tasks.length} of ${fmt(c.total)} shared tasks`),
        h("button", { disabled: offset + 100 >= c.total, onclick: () => go({ offset: String(offset + 100) }) }, "Next ›"))),
  );
}

// ---------------------------------------------------------------- routing

async function route() {
  const [path] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  let run = 0;
  if (parts[0] === "r") run = Number(parts[1]) || 0;
  if (!runs[run]) run = 0;
  runSelect.value = String(run);
  document.querySelector('nav a[data-nav="overview"]').href = `#/r/${run}`;
  document.querySelector('nav a[data-nav="tasks"]').href = `#/r/${run}/tasks`;
  try {
    if (parts[0] === "compare") await comparePage();
    else if (parts[2] === "tasks") await tasksPage(run);
    else if (parts[2] === "task") await taskPage(run, Number(parts[3]));
    else if (parts[2] === "rollout") await rolloutPage(run, Number(parts[3]));
    else await overviewPage(run);
  } catch (error) {
    show(h("div", { class: "error" }, `Could not load this page: ${error.message}`));
  }
  document.body.dataset.ready = location.hash;  // tests and screenshots wait for this
}

async function start() {
  runs = await api("/api/runs");
  runSelect.replaceChildren(...runs.map((r) => h("option", { value: r.id }, `${r.name} · ${r.rows.toLocaleString()} rows`)));
  runSelect.addEventListener("change", () => (location.hash = `#/r/${runSelect.value}`));
  window.addEventListener("hashchange", route);
  await route();
}

start();
