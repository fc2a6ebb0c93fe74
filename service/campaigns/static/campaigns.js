// The campaigns pages' own script (console.js sends the forms to the brand API):
// - times: <input type=datetime-local data-local-for=ID> fills the hidden input ID with the moment
//   in UTC (ISO 8601), so "09:00" means the marketer's 09:00; <time data-local> shows local time;
// - compose: the audience controls become one segment rule (the hidden "audience" field), whose
//   size is asked of POST /api/v1/campaigns/preview as it changes (debounced, stale answers
//   dropped); the lock-screen preview is the API's preview.png of the typed text;
// - a campaign being sent: its page follows GET /api/v1/campaigns/{id} and reloads when done.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const lang = document.documentElement.lang || "en";
  const debounce = (fn, ms) => {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  };

  // ---- times ----------------------------------------------------------------------------
  const syncLocal = (input) => {
    const target = $(input.dataset.localFor);
    if (!target) return;
    const moment = input.value ? new Date(input.value) : null;
    target.value = moment && !Number.isNaN(moment.getTime()) ? moment.toISOString() : "";
  };
  for (const input of document.querySelectorAll("input[data-local-for]")) {
    input.addEventListener("input", () => syncLocal(input));
    input.addEventListener("change", () => syncLocal(input));
    syncLocal(input);
  }
  // A required time left empty would mean "now" to the API: refuse it here, before console.js sends.
  for (const guarded of document.querySelectorAll("form[data-api]")) {
    guarded.addEventListener("submit", (event) => {
      const empty = [...guarded.querySelectorAll("input[data-local-for]")]
        .find((input) => input.required && !input.value && !input.closest("[hidden]"));
      if (!empty) return;
      event.preventDefault();
      event.stopPropagation();
      empty.setAttribute("aria-invalid", "true");
      let note = document.getElementById(`error-${empty.id}`);
      if (!note) {
        note = document.createElement("span");
        note.className = "field-error";
        note.id = `error-${empty.id}`;
        empty.insertAdjacentElement("afterend", note);
        empty.setAttribute("aria-describedby", note.id);
      }
      note.textContent = empty.dataset.missing || "";
      empty.focus();
    });
  }
  for (const node of document.querySelectorAll("time[data-local]")) {
    const moment = new Date(node.getAttribute("datetime"));
    if (!Number.isNaN(moment.getTime())) {
      node.title = node.textContent;
      node.textContent = moment.toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
    }
  }

  // ---- a campaign on its way: follow it ---------------------------------------------------
  const watched = document.querySelector("[data-watch]");
  if (watched && window.Passcast) {
    const settled = ["draft", "scheduled", "finished", "cancelled", "running"];
    window.Passcast.poll(watched.dataset.watch, () => {}, (answer) => settled.includes(answer.status), 2)
      .then(() => window.location.reload())
      .catch(() => {});
  }

  // ---- compose ----------------------------------------------------------------------------
  const form = $("compose-form");
  if (!form) return;
  const words = JSON.parse(($("campaigns-words") || {}).textContent || "{}");
  const count = $("audience-count");
  const button = $("campaign-send");
  const when = $("when-choice");
  let lastCount = null;
  let asked = 0;

  function audience() {
    const rules = [];
    const program = $("audience-program").value;
    if (program) rules.push({ program_id: Number(program) });
    const tiers = [...document.querySelectorAll(".audience-tier:checked")].map((box) => box.value);
    if (tiers.length) rules.push({ tier: tiers });
    const activity = $("audience-activity").value;
    const days = Math.round(Number($("audience-days").value));
    if (activity) rules.push({ [activity]: { days: days >= 1 && days <= 3650 ? days : 30 } });
    const birthday = $("audience-birthday").value;
    if (birthday) rules.push({ birthday });
    if (!rules.length) return { all_cards: true };
    return rules.length === 1 ? rules[0] : { all: rules };
  }

  function label() {
    const choice = when.value;
    if (choice === "later") button.textContent = words.schedule;
    else if (choice === "draft") button.textContent = words.save_draft;
    else button.textContent = words.send_to.replace("{n}", lastCount === null ? "…" : String(lastCount));
  }

  const askCount = debounce(async (rule) => {
    const mine = ++asked;
    const error = $("audience-error");
    try {
      const answer = await window.Passcast.api("POST", "/api/v1/campaigns/preview", { audience: rule });
      if (mine !== asked) return; // a newer audience was asked for meanwhile
      lastCount = answer.count;
      count.textContent = String(answer.count);
      count.dataset.count = String(answer.count);
      error.hidden = true;
    } catch (failure) {
      if (mine !== asked) return;
      lastCount = null;
      count.textContent = "?";
      delete count.dataset.count;
      error.textContent = failure.message;
      error.hidden = false;
    }
    label();
  }, 300);

  function audienceChanged() {
    const rule = audience();
    const text = JSON.stringify(rule);
    $("audience-json").value = text;
    $("audience-rule").textContent = text;
    count.textContent = words.counting;
    delete count.dataset.count;
    askCount(rule);
    showPreview();
  }

  function whenChanged() {
    const later = when.value === "later";
    $("when-later-fields").hidden = !later;
    $("campaign-send-at").disabled = !later;
    $("campaign-send-at-local").required = later;
    $("campaign-send-now-flag").checked = when.value === "now";
    label();
  }

  const programs = JSON.parse(form.dataset.programs || "[]");
  const showPreview = debounce(() => {
    const language = $("preview-language").value;
    const russian = $("campaign-message-ru").value.trim();
    const text = (language === "ru" && russian) ? russian : $("campaign-message").value.trim();
    const image = $("preview-apple");
    $("preview-google-text").textContent = text;
    $("preview-empty").hidden = Boolean(text);
    if (!text) { image.hidden = true; image.removeAttribute("src"); return; }
    const program = $("audience-program").value || programs[0];
    const query = new URLSearchParams({ message: "news", news: text.slice(0, 1000), language });
    image.src = `/api/v1/programs/${program}/preview.png?${query}`;
    image.hidden = false;
  }, 500);

  for (const id of ["audience-program", "audience-activity", "audience-days", "audience-birthday"]) {
    $(id).addEventListener("change", audienceChanged);
  }
  $("audience-days").addEventListener("input", audienceChanged);
  for (const box of document.querySelectorAll(".audience-tier")) box.addEventListener("change", audienceChanged);
  for (const id of ["campaign-message", "campaign-message-ru", "preview-language"]) {
    $(id).addEventListener("input", showPreview);
    $(id).addEventListener("change", showPreview);
  }
  when.addEventListener("change", whenChanged);
  whenChanged();
  audienceChanged();
})();
