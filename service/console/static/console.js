// The console's live parts, shared by every page. The pages are rendered by the server; what they
// change goes through the brand API (/api/v1/...) with the session cookie (HttpOnly: this script
// never sees it) and the session's CSRF token in a header, so the console offers nothing the API
// does not, and there is one implementation of each change.
//
//   <form data-api="POST /api/v1/stores" data-then="go:/console/stores/{id}"> ... </form>
//
// Inputs become a JSON body: data-type="int|number|list|json" converts, checkboxes are booleans,
// a dotted name ("terms.en") nests, a blank field is left out (data-blank="null" sends null,
// data-blank="empty" sends ""). A form with data-upload sends its one file as the raw body.
// data-idempotent adds an Idempotency-Key header (kept until the change succeeds).
// data-then: "reload" (the default), "go:<url with {field} of the answer>", "event:<name>" (a
// CustomEvent on the form with the answer as detail), or "stay". data-confirm asks first.
// A problem+json answer is shown in the form's [data-status] (or a status line it gets), and each
// invalid field is marked (aria-invalid, its message beside it).
// htmx requests carry the same CSRF header. Every request goes to our own origin.
"use strict";

(() => {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const words = (() => {
    const node = document.getElementById("console-words");
    try { return node ? JSON.parse(node.textContent) : {}; } catch (error) { return {}; }
  })();
  const word = (key, fallback) => words[key] || fallback;

  class ApiError extends Error {
    constructor(message, status, problem) { super(message); this.status = status; this.problem = problem || {}; }
  }

  async function api(method, url, body, contentType, extraHeaders) {
    const headers = { Accept: "application/json, application/problem+json", "X-CSRF-Token": csrf(), ...(extraHeaders || {}) };
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined && body !== null) {
      if (body instanceof Blob) {
        headers["Content-Type"] = contentType || body.type || "application/octet-stream";
        init.body = body;
      } else {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      throw new ApiError(word("offline", "No connection to the server. Check the network and try again."), 0);
    }
    if (response.status === 401) {
      window.location.assign(`/console/sign-in?next=${encodeURIComponent(window.location.pathname)}`);
      throw new ApiError(word("session_ended", "Your session has ended. Sign in again."), 401);
    }
    const type = response.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await response.json().catch(() => ({})) : null;
    if (!response.ok) {
      const problem = data || {};
      throw new ApiError(problem.detail || problem.title || `${word("server_said", "The server answered")} ${response.status}.`,
                         response.status, problem);
    }
    return data === null ? {} : data;
  }

  // ---- forms -> JSON ----------------------------------------------------------------------

  function put(target, dotted, value) {
    const parts = dotted.split(".");
    let node = target;
    for (const part of parts.slice(0, -1)) node = node[part] = node[part] || {};
    node[parts[parts.length - 1]] = value;
  }

  function valueOf(input) {
    const type = input.dataset.type || "";
    if (input.type === "checkbox" && !type) return input.checked;
    if (input.type === "checkbox") return input.checked ? input.value : undefined;
    if (input.tagName === "SELECT" && input.multiple) {
      const chosen = [...input.selectedOptions].map((option) => option.value);
      return type === "int" ? chosen.map(Number) : chosen;
    }
    const raw = input.value.trim();
    if (raw === "") {
      if (input.dataset.blank === "null") return null;
      if (input.dataset.blank === "empty") return "";
      if (type === "list") return [];
      return undefined;
    }
    if (type === "int" || type === "number") return Number(raw);
    if (type === "list") return raw.split(/[\n,]/).map((item) => item.trim()).filter(Boolean);
    if (type === "json") return JSON.parse(raw);
    return input.type === "textarea" || input.tagName === "TEXTAREA" ? input.value : raw;
  }

  function formBody(form) {
    const body = {};
    for (const input of form.querySelectorAll("input[name], select[name], textarea[name]")) {
      if (input.disabled || input.type === "file" || input.name === "csrf_token") continue;
      if (input.type === "radio" && !input.checked) continue;
      const value = valueOf(input);
      if (value !== undefined) put(body, input.name, value);
    }
    return body;
  }

  function statusOf(form) {
    let status = form.querySelector("[data-status]");
    if (!status) {
      status = document.createElement("p");
      status.dataset.status = "";
      status.hidden = true;
      form.append(status);
    }
    return status;
  }

  function say(status, text, kind) {
    status.textContent = text;
    status.className = `status ${kind}`;
    status.setAttribute("role", kind === "error" ? "alert" : "status");
    status.hidden = !text;
  }

  function clearFieldErrors(form) {
    for (const note of form.querySelectorAll(".field-error")) note.remove();
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  }

  function markFieldErrors(form, problem) {
    let first = null;
    for (const error of problem.errors || []) {
      const input = form.querySelector(`[name="${CSS.escape(error.field)}"]`);
      if (!input) continue;
      const note = document.createElement("span");
      note.className = "field-error";
      note.id = `error-${input.id || error.field.replace(/\W/g, "-")}`;
      note.textContent = error.message;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", note.id);
      input.insertAdjacentElement("afterend", note);
      first = first || input;
    }
    if (first) first.focus();
  }

  function fill(template, answer) {
    return template.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent(answer[key] ?? ""));
  }

  // A form with data-idempotent sends an Idempotency-Key header: one per intended change, kept
  // until it succeeds, so a retry after a lost answer cannot apply it twice.
  function idempotency(form) {
    if (form.dataset.idempotent === undefined) return undefined;
    if (!form.dataset.idempotencyKey) {
      const bytes = crypto.getRandomValues(new Uint8Array(16));
      form.dataset.idempotencyKey = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
    }
    return { "Idempotency-Key": form.dataset.idempotencyKey };
  }

  async function submit(form, event) {
    event.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const [method, url] = form.dataset.api.split(/\s+/, 2);
    const status = statusOf(form);
    const buttons = [...form.querySelectorAll("button")];
    clearFieldErrors(form);
    let body;
    try {
      if (form.dataset.upload !== undefined) {
        const file = form.querySelector("input[type=file]").files[0];
        if (!file) { say(status, word("choose_file", "Choose a file first."), "error"); return; }
        body = file;
      } else {
        body = method === "GET" || method === "DELETE" ? null : formBody(form);
      }
    } catch (error) {
      say(status, word("bad_json", "A field holds text that is not valid JSON."), "error");
      return;
    }
    buttons.forEach((button) => { button.disabled = true; });
    form.setAttribute("aria-busy", "true");
    say(status, word("saving", "Saving…"), "info");
    try {
      const answer = await api(method, fill(url, formBody(form)), body, undefined, idempotency(form));
      delete form.dataset.idempotencyKey; // the next submission is a new transaction
      const then = form.dataset.then || "reload";
      say(status, form.dataset.done || word("saved", "Saved."), "info");
      if (then === "reload") window.location.reload();
      else if (then.startsWith("go:")) window.location.assign(fill(then.slice(3), answer));
      else if (then.startsWith("event:")) form.dispatchEvent(new CustomEvent(then.slice(6), { detail: answer, bubbles: true }));
    } catch (error) {
      say(status, error.message, "error");
      if (error.problem) markFieldErrors(form, error.problem);
    } finally {
      buttons.forEach((button) => { button.disabled = false; });
      form.removeAttribute("aria-busy");
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-api]");
    if (form) submit(form, event);
  });

  // htmx (vendored: static/vendor) asks our own pages for fragments; unsafe ones carry the token.
  document.addEventListener("htmx:configRequest", (event) => { event.detail.headers["X-CSRF-Token"] = csrf(); });

  // Poll an API address until `done(answer)` says so, handing each answer to `seen`.
  async function poll(url, seen, done, seconds = 1) {
    for (;;) {
      const answer = await api("GET", url);
      seen(answer);
      if (done(answer)) return answer;
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    }
  }

  window.Passcast = { api, poll, formBody, ApiError, word };
})();
