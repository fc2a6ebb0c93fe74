// The brand's dashboard in the console: the console's session cookie (HttpOnly: this script never
// sees it) signs the calls to /api/v1/analytics/*, with the session's CSRF token in a header. Load
// the four analytics reports at once, draw charts where a picture says more, tables for the rest,
// and download any report as CSV (saved through a Blob). Every request goes to our own origin.
"use strict";

(() => {
  const REPORTS = ["summary", "cohorts", "campaigns", "nps"];
  const COLOURS = ["#2463b5", "#1d8a5b", "#d9822b", "#8e44ad", "#c0392b", "#16a2b8", "#7f8c8d", "#b5a324",
                   "#e84393", "#2c3e50", "#6c5ce7", "#00b894"];
  const $ = (id) => document.getElementById(id);
  const state = { charts: {}, query: "" };
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const WORDS = JSON.parse(($("dashboard-words") || {}).textContent || "{}");
  const LOCALE = document.documentElement.lang || undefined;
  // t("dash_active_hint", { days: 90 }): the page's language, figures put in their {places}.
  const t = (key, values = {}) => (WORDS[`dash_${key}`] || key).replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");

  // ---- the API ----------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

  // 202: a big brand's figures for a new period are being counted by a job; ask again.
  async function fetchCounted(path, accept) {
    for (let attempt = 0; attempt < 120; attempt++) {
      const response = await fetch(path, { credentials: "same-origin",
                                           headers: { Accept: accept, "X-CSRF-Token": csrf() } });
      if (response.status !== 202) return response;
      say(t("counting_all"));
      await sleep(Number(response.headers.get("Retry-After")) || 5);
    }
    throw new ApiError(t("too_long"), 202);
  }

  async function api(path, accept = "application/json") {
    let response;
    try {
      response = await fetchCounted(path, accept);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw new ApiError(window.Passcast.word("offline", "No connection to the server."), 0);
    }
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      if (response.status === 401) {  // the session ended (signed out elsewhere, expired): sign in again
        window.location.assign(`/console/sign-in?next=${encodeURIComponent(window.location.pathname)}`);
        throw new ApiError(problem.detail || window.Passcast.word("session_ended", "Your session has ended."), 401);
      }
      throw new ApiError(problem.detail || problem.title || `The server answered ${response.status}.`, response.status);
    }
    return accept === "text/csv" ? response : response.json();
  }

  function say(text, kind = "info") {
    const status = $("status");
    status.textContent = text;
    status.className = `status ${kind}`;
    status.hidden = !text;
  }

  // ---- loading ----------------------------------------------------------------------------

  function queryString() {
    const params = new URLSearchParams();
    if ($("from").value) params.set("from", $("from").value);
    if ($("to").value) params.set("to", $("to").value);
    params.set("days", $("days").value || "90");
    return `?${params}`;
  }

  async function load() {
    say(t("counting"));
    state.query = queryString();
    const [summary, cohorts, campaigns, nps, comments] = await Promise.all([
      ...REPORTS.map((name) => api(`/api/v1/analytics/${name}${state.query}`)),
      api(`/api/v1/analytics/nps/comments${state.query}&limit=10`)]);
    // Empty date fields mean "the last 12 months": the figures a big brand's cache keeps current.
    const asOf = new Date(summary.computed_at).toLocaleString(LOCALE, { dateStyle: "medium", timeStyle: "short" });
    $("as-of").textContent = t("as_of", { from: summary.period.from, to: summary.period.to, at: asOf }) +
      (summary.cached ? t("cached") : "");
    drawSummary(summary);
    drawCohorts(cohorts);
    drawCampaigns(campaigns);
    drawNps(nps);
    drawComments(comments);
    say("");
  }

  // ---- charts and tables ------------------------------------------------------------------

  const pct = (value) => (value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)} %`);
  const num = (value) => (value === null || value === undefined ? "—" : Number(value).toLocaleString(LOCALE));
  // Money figures come as "12.50" strings; `currency` is the brand's (null when its programs use several).
  const money = (value, currency) => (value === null || value === undefined ? "—"
    : currency ? `${value} ${currency}` : String(value));

  function chart(id, config) {
    if (state.charts[id]) state.charts[id].destroy();
    config.options = { responsive: true, maintainAspectRatio: false, animation: false, ...config.options };
    state.charts[id] = new window.Chart($(id), config);
  }

  function tile(label, value, hint) {
    const box = document.createElement("div");
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = label;
    dd.textContent = value;
    if (hint) box.title = hint;
    box.append(dt, dd);
    return box;
  }

  function drawSummary(s) {
    const c = s.cards;
    $("tiles").replaceChildren(
      tile(t("issued"), num(c.issued), t("issued_hint")),
      tile(t("all_cards"), num(c.total), t("all_cards_hint")),
      tile(t("apple"), num(c.installed_apple), t("apple_hint")),
      tile(t("google"), num(c.installed_google), t("google_hint")),
      tile(t("removed"), num(c.removed), t("removed_hint")),
      tile(t("active"), num(c.active), t("active_hint", { days: s.period.days })),
      tile(t("lapsed"), num(c.lapsed), t("lapsed_hint", { days: s.period.days })),
      tile(t("churn"), pct(s.churn_rate), t("churn_hint")),
      tile(t("redemption"), pct(s.redemption.rate),
           t("redemption_hint", { redeemed: num(s.redemption.points_redeemed), issued: num(s.redemption.points_issued) })),
      tile(t("avg_purchase"), money(s.purchases.average, s.currency),
           t("avg_purchase_hint", { count: num(s.purchases.count), revenue: money(s.purchases.revenue, s.currency) })),
      tile(t("repeat"), pct(s.repeat_purchase.rate),
           t("repeat_hint", { repeat: num(s.repeat_purchase.repeat_buyers), buyers: num(s.repeat_purchase.buyers) })),
      tile(t("ltv"), money(s.lifetime_value, s.currency), t("ltv_hint")),
    );
    chart("wallets-chart", {
      type: "bar",
      data: { labels: [t("apple"), t("google"), t("removed")],
              datasets: [{ label: t("all_cards"), data: [c.installed_apple, c.installed_google, c.removed],
                           backgroundColor: ["#1c2430", "#2463b5", "#c0392b"] }] },
      options: { indexAxis: "y", plugins: { legend: { display: false } } },
    });
    chart("activity-chart", {
      type: "doughnut",
      data: { labels: [t("active"), t("lapsed"), t("other")],
              datasets: [{ data: [c.active, c.lapsed, Math.max(0, c.total - c.active - c.lapsed)],
                           backgroundColor: ["#1d8a5b", "#d9822b", "#c8d0da"] }] },
      options: { plugins: { legend: { position: "bottom" } } },
    });
  }

  function cell(row, text, tag = "td", shade = null) {
    const element = document.createElement(tag);
    element.textContent = text;
    if (shade !== null) {
      element.style.setProperty("--heat", shade.toFixed(3));
      element.classList.toggle("hot", shade > 0.5);
    }
    row.append(element);
  }

  function drawCohorts(report) {
    const cohorts = report.cohorts;
    const width = Math.max(0, ...cohorts.map((c) => c.retention.length));
    // All cohorts together: of the cards that have lived k months, the share active in month k.
    const all = Array.from({ length: width }, (_, k) => {
      const alive = cohorts.filter((c) => c.active.length > k);
      const cards = alive.reduce((sum, c) => sum + c.cards, 0);
      return cards ? (100 * alive.reduce((sum, c) => sum + c.active[k], 0)) / cards : null;
    });
    chart("retention-chart", {
      type: "line",
      data: { labels: Array.from({ length: width }, (_, k) => t("month", { k })),
              datasets: [{ label: t("all_cohorts"), data: all, borderColor: "#1c2430", backgroundColor: "#1c2430",
                           borderWidth: 4, tension: 0.2 },
                         ...cohorts.map((c, i) => ({ label: c.cohort, data: c.retention.map((r) => r * 100),
                                                     borderColor: `${COLOURS[i % COLOURS.length]}99`, borderWidth: 1.5,
                                                     tension: 0.2, pointRadius: 0,
                                                     backgroundColor: COLOURS[i % COLOURS.length] }))] },
      options: { scales: { y: { min: 0, max: 100, ticks: { callback: (v) => `${v} %` } } },
                 plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } } },
    });
    const table = $("cohorts-table");
    const head = document.createElement("tr");
    [t("cohort"), t("all_cards"), t("ltv_short"), ...Array.from({ length: width }, (_, k) => t("m", { k }))].forEach((t) => cell(head, t, "th"));
    const rows = cohorts.map((c) => {
      const row = document.createElement("tr");
      cell(row, c.cohort, "th");
      cell(row, num(c.cards));
      cell(row, money(c.lifetime_value, report.currency));
      c.retention.forEach((r) => cell(row, pct(r), "td", r));
      return row;
    });
    table.replaceChildren(head, ...rows);
    if (!cohorts.length) table.replaceChildren(emptyRow(t("no_cards")));
  }

  function emptyRow(text) {
    const row = document.createElement("tr");
    cell(row, text);
    return row;
  }

  function drawCampaigns(report) {
    const campaigns = report.campaigns.slice(0, 12).reverse();
    $("campaigns-chart").parentElement.hidden = !campaigns.length;
    chart("campaigns-chart", {
      type: "bar",
      data: { labels: campaigns.map((c) => c.name),
              datasets: [["targeted", t("targeted"), "#c8d0da"], ["sent", t("sent"), "#16a2b8"],
                         ["accepted", t("accepted"), "#2463b5"], ["confirmed", t("confirmed"), "#1d8a5b"],
                         ["buyers_7d", t("bought_7d"), "#d9822b"]]
                .map(([key, label, colour]) => ({ label, data: campaigns.map((c) => c[key]), backgroundColor: colour })) },
      options: { plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } } },
    });
    const table = $("campaigns-table");
    const head = document.createElement("tr");
    [t("campaign"), t("started"), t("targeted"), t("sent"), t("accepted"), t("confirmed"), t("buyers_7d"),
     t("revenue_7d"), t("conversion"), t("lift")]
      .forEach((t) => cell(head, t, "th"));
    const rows = report.campaigns.map((c) => {
      const row = document.createElement("tr");
      cell(row, c.name, "th");
      cell(row, new Date(c.started_at).toLocaleDateString(LOCALE, { dateStyle: "medium" }));
      [c.targeted, c.sent, c.accepted, c.confirmed, c.buyers_7d].forEach((n) => cell(row, num(n)));
      cell(row, money(c.revenue_7d, report.currency));
      cell(row, pct(c.conversion_7d));
      // the lift against the holdout; without one the purchases are correlation, and it says so
      cell(row, c.incremental_revenue === null || c.incremental_revenue === undefined ? t("not_causal")
        : t("lift_range", { estimate: money(c.incremental_revenue, report.currency),
                            low: money(c.incremental_revenue_low, report.currency),
                            high: money(c.incremental_revenue_high, report.currency) }));
      return row;
    });
    table.replaceChildren(head, ...rows);
    if (!rows.length) table.replaceChildren(emptyRow(t("no_campaigns")));
  }

  function drawNps(report) {
    const total = report.total;
    $("nps-total").textContent = total.nps === null ? t("no_answers")
      : t("nps_total", { nps: `${total.nps > 0 ? "+" : ""}${total.nps}`, answers: num(total.answers),
                         promoters: num(total.promoters), passives: num(total.passives), detractors: num(total.detractors) });
    const npsColour = (values) => values.map((v) => (v >= 30 ? "#1d8a5b" : v >= 0 ? "#d9822b" : "#c0392b"));
    const scale = { y: { min: -100, max: 100 } };
    const months = report.by_month.map((m) => m.nps);
    chart("nps-month-chart", {
      type: "bar",
      data: { labels: report.by_month.map((m) => m.month),
              datasets: [{ label: t("nps_month"), data: months, backgroundColor: npsColour(months) }] },
      options: { scales: scale, plugins: { legend: { display: false }, title: { display: true, text: t("per_month") } } },
    });
    const stores = report.by_store.map((s) => s.nps);
    chart("nps-store-chart", {
      type: "bar",
      data: { labels: report.by_store.map((s) => s.store || t("no_store")),
              datasets: [{ label: t("nps_store"), data: stores, backgroundColor: npsColour(stores) }] },
      options: { scales: scale, plugins: { legend: { display: false }, title: { display: true, text: t("per_store") } } },
    });
  }

  // A customer's comment is their own text: set as textContent, never as HTML.
  function drawComments(comments) {
    const items = comments.map((c) => {
      const item = document.createElement("li");
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = t("comment_meta", { score: c.score, card: c.card_id,
                                            at: new Date(c.answered_at).toLocaleString(LOCALE, { dateStyle: "medium", timeStyle: "short" }) });
      const text = document.createElement("q");
      text.textContent = c.comment;
      item.append(meta, " ", text);
      return item;
    });
    if (!items.length) {
      const none = document.createElement("li");
      none.textContent = t("no_comments");
      items.push(none);
    }
    $("nps-comments").replaceChildren(...items);
  }

  // ---- CSV downloads ----------------------------------------------------------------------

  async function download(report) {
    const response = await api(`/api/v1/analytics/${report}${state.query}`, "text/csv");
    const name = (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = name ? name[1] : `${report}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // ---- wiring -----------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    $("period").addEventListener("submit", (event) => {
      event.preventDefault();
      load().catch((error) => say(error.message, "error"));
    });
    $("reset").addEventListener("click", () => {
      $("from").value = "";
      $("to").value = "";
      load().catch((error) => say(error.message, "error"));
    });
    document.querySelectorAll("a.csv").forEach((link) => link.addEventListener("click", (event) => {
      event.preventDefault();
      download(link.dataset.report).catch((error) => say(error.message, "error"));
    }));
    load().catch((error) => say(error.message, "error"));
  });
})();
