// The members import page: send the chosen CSV as the raw body (text/csv) to the brand API,
// then follow the job (GET /api/v1/imports/{id}) with a progress bar and a table of bad rows.
"use strict";

(() => {
  const form = document.getElementById("import-form");
  if (!form) return;
  const pageWords = (() => {
    try { return JSON.parse(document.getElementById("page-words").textContent); } catch (error) { return {}; }
  })();
  const say = (key, values) => (pageWords[key] || key).replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
  const $ = (id) => document.getElementById(id);
  const status = form.querySelector("[data-status]");

  function tell(text, kind) {
    status.textContent = text;
    status.className = `status ${kind}`;
    status.setAttribute("role", kind === "error" ? "alert" : "status");
    status.hidden = !text;
  }

  function show(job) {
    $("import-job").hidden = false;
    const state = $("import-state");
    state.textContent = say(`imports_status_${job.status}`, {});
    state.className = `badge ${job.status === "done" ? "good" : job.status === "failed" ? "bad" : "wait"}`;
    state.dataset.status = job.status;
    $("import-bar").value = job.progress;
    $("import-rows").textContent = say("imports_rows", { done: job.processed_rows, total: job.total_rows });
    const figures = { created: job.created_cards, matched: job.matched_cards, bad: job.error_rows };
    let result = "";
    if (job.status === "failed") result = `${say("imports_failed", {})} ${job.failure || ""}`;
    else if (job.status === "done") result = say(job.dry_run ? "imports_result_dry" : "imports_result", figures);
    $("import-result").textContent = result;
    const rows = $("import-error-rows");
    rows.replaceChildren(...(job.errors || []).map((error) => {
      const row = document.createElement("tr");
      for (const [value, number] of [[error.line, true], [error.field, false], [error.message, false]]) {
        const cell = document.createElement("td");
        if (number) cell.className = "number";
        cell.textContent = value;
        row.append(cell);
      }
      return row;
    }));
    $("import-errors").hidden = !(job.errors || []).length;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = $("import-file").files[0];
    if (!file) { tell(window.Passcast.word("choose_file", "Choose a file first."), "error"); return; }
    const program = $("import-program").value;
    const dryRun = $("import-dry-run").checked;
    const button = $("import-start");
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    tell(window.Passcast.word("saving", "Saving…"), "info");
    try {
      const job = await window.Passcast.api("POST", `/api/v1/programs/${encodeURIComponent(program)}/imports?dry_run=${dryRun}`,
                                            file, "text/csv");
      tell("", "info");
      show(job);
      await window.Passcast.poll(`/api/v1/imports/${job.id}`, show, (answer) => ["done", "failed"].includes(answer.status));
    } catch (error) {
      tell(error.message, "error");
    } finally {
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
})();
