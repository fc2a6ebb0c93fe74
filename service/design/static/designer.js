// The card designer: a live preview of the unsaved draft, then saving with the reach shown first
// and the update's progress to the phones after. Every call is the brand API (console.js's
// Passcast.api with the session's CSRF token); previews come back as PNG and are shown through
// blob: URLs (the console's CSP allows img-src blob:).
"use strict";

(() => {
  const root = document.getElementById("designer");
  const form = document.getElementById("design-form");
  if (!root || !form || !window.Passcast) return;
  const program = root.dataset.program;
  const api = `/api/v1/programs/${program}`;
  const text = JSON.parse(root.dataset.words || "{}");
  const $ = (id) => document.getElementById(id);
  const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // Preset buttons wear their design's colours (set here: the CSP forbids style attributes).
  for (const button of document.querySelectorAll("button.preset")) {
    button.style.background = button.dataset.bg;
    button.style.color = button.dataset.fg;
  }

  // ---- the draft ------------------------------------------------------------------------------

  function draft() {
    const body = window.Passcast.formBody(form);
    body.labels = body.labels || {}; // sent whole: an emptied label box goes back to ours
    return body;
  }

  let saved = draft();

  function changes() {
    const now = draft();
    const out = {};
    for (const [key, value] of Object.entries(now)) {
      if (JSON.stringify(value) !== JSON.stringify(saved[key])) out[key] = value;
    }
    return out;
  }

  function say(node, message, kind) {
    node.textContent = message;
    node.className = `status ${kind}`;
    node.setAttribute("role", kind === "error" ? "alert" : "status");
    node.hidden = !message;
  }

  function clearErrors() {
    for (const note of form.querySelectorAll(".field-error")) note.remove();
    for (const input of form.querySelectorAll("[aria-invalid]")) {
      input.removeAttribute("aria-invalid");
      if (input.dataset.describedBy !== undefined) input.setAttribute("aria-describedby", input.dataset.describedBy);
    }
  }

  function markErrors(problem) {
    const unplaced = [];
    for (const error of (problem && problem.errors) || []) {
      const input = form.querySelector(`[name="${CSS.escape(error.field)}"]`);
      if (!input) { unplaced.push(`${error.field}: ${error.message}`); continue; }
      const note = document.createElement("span");
      note.className = "field-error";
      note.id = `error-${input.id}`;
      note.textContent = error.message;
      input.setAttribute("aria-invalid", "true");
      input.dataset.describedBy = input.getAttribute("aria-describedby") || "";
      input.setAttribute("aria-describedby", `${input.dataset.describedBy} ${note.id}`.trim());
      input.insertAdjacentElement("afterend", note);
    }
    return unplaced;
  }

  // ---- the live preview ------------------------------------------------------------------------

  const images = [...document.querySelectorAll("#design-previews img")];
  const previews = $("design-previews");
  const previewStatus = $("design-preview-status");
  let timer = null;
  let round = 0;

  function query(img) {
    const params = new URLSearchParams(img.dataset.query.replace(/^&/, ""));
    params.set("language", $("design-preview-language").value);
    const tier = $("design-preview-tier").value;
    if (tier) params.set("tier", tier);
    if (params.has("message")) params.set("message", $("design-preview-message").value);
    return params.toString();
  }

  async function picture(img, body) {
    const response = await fetch(`${api}/preview.png?${query(img)}`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "image/png, application/problem+json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({ detail: `${response.status}` }));
      return { img, problem };
    }
    return { img, blob: await response.blob() };
  }

  async function redraw() {
    const mine = ++round;
    const body = draft();
    previews.setAttribute("aria-busy", "true");
    let answers;
    try {
      answers = await Promise.all(images.map((img) => picture(img, body)));
    } catch (error) {
      if (mine === round) say(previewStatus, window.Passcast.word("offline", "No connection."), "error");
      return;
    } finally {
      if (mine === round) previews.setAttribute("aria-busy", "false");
    }
    if (mine !== round) return; // a later keystroke's pictures are on their way
    clearErrors();
    const problems = [];
    for (const answer of answers) {
      if (answer.blob) {
        const old = answer.img.src;
        answer.img.src = URL.createObjectURL(answer.blob);
        if (old.startsWith("blob:")) URL.revokeObjectURL(old);
      } else {
        problems.push(answer.problem);
      }
    }
    if (problems.length) {
      const first = problems[0];
      markErrors(first);
      const listed = (first.errors || []).map((error) => `${error.field}: ${error.message}`);
      say(previewStatus, fill(text.fix, { problems: listed.join("; ") || first.detail || first.title }), "error");
    } else {
      say(previewStatus, "", "info");
    }
    root.dataset.previewRound = String(mine); // tests wait for this
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(redraw, 300);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  for (const id of ["design-preview-language", "design-preview-tier", "design-preview-message"]) {
    $(id).addEventListener("change", soon);
  }

  // ---- reach, save, progress -------------------------------------------------------------------

  const reachNote = $("design-reach");
  const status = $("design-status");
  const save = $("design-save");

  async function reach() {
    const answer = await window.Passcast.api("GET", `${api}/reach`);
    reachNote.textContent = fill(text.reach, { cards: answer.cards, phones: answer.phones, apple: answer.apple_phones,
                                               android: answer.android_app_phones, google: answer.google_saved });
    reachNote.dataset.cards = answer.cards;
    reachNote.dataset.phones = answer.phones;
    return answer;
  }

  function showProgress(answer, stable) {
    const bar = $("design-progress");
    const finished = answer.sent + answer.fetched + answer.not_reachable;
    bar.max = Math.max(answer.pushes, 1);
    bar.value = answer.pushes ? finished : 1;
    let line = fill(text.progress, { cards: answer.cards_updated, sent: answer.sent, fetched: answer.fetched,
                                     waiting: answer.waiting, failed: answer.not_reachable, pushes: answer.pushes });
    if (answer.done) line += ` ${text.done}`;
    else if (stable) line += ` ${text.stable}`;
    $("design-progress-text").textContent = line;
    $("design-progress-panel").dataset.state = answer.done ? "done" : stable ? "stable" : "running";
  }

  let following = 0;

  async function follow(since) {
    const mine = ++following;
    $("design-progress-panel").hidden = false;
    let last = "";
    let same = 0;
    const started = Date.now();
    for (;;) {
      if (mine !== following) return;
      let answer;
      try {
        answer = await window.Passcast.api("GET", `${api}/update-progress?since=${encodeURIComponent(since)}`);
      } catch (error) {
        say(status, error.message, "error");
        return;
      }
      const key = JSON.stringify(answer);
      same = key === last ? same + 1 : 0;
      last = key;
      const stable = same >= 4;
      showProgress(answer, stable);
      if (answer.done || Date.now() - started > 180000) return;
      // Once stable, keep looking now and then: a phone that was off fetches when it comes back.
      await new Promise((resolve) => setTimeout(resolve, stable ? 4000 : 1000));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = changes();
    if (!Object.keys(body).length) { say(status, text.nothing, "info"); return; }
    save.disabled = true;
    form.setAttribute("aria-busy", "true");
    clearErrors();
    try {
      const before = await reach();
      say(status, window.Passcast.word("saving", "Saving…"), "info");
      await window.Passcast.api("PATCH", api, body);
      saved = draft();
      say(status, `${window.Passcast.word("saved", "Saved.")} ${reachNote.textContent}`, "info");
      follow(before.as_of);
    } catch (error) {
      say(status, error.message, "error");
      if (error.problem) markErrors(error.problem);
    } finally {
      save.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });

  reach().catch((error) => say(status, error.message, "error"));
})();
