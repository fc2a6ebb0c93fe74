// The API keys page: the answer to POST /api/v1/api-keys holds the new key's secret, the one time it
// exists outside a hash. Show it (with a copy button), add the key to the list, and keep it
// nowhere: a reload shows the list without it.
"use strict";

(() => {
  const form = document.getElementById("key-form");
  const made = document.getElementById("key-made");
  if (!form || !made) return;
  const status = document.getElementById("key-copy-status");
  const secret = document.getElementById("key-secret");

  form.addEventListener("key-created", (event) => {
    const key = event.detail || {};
    const chosen = form.querySelector("input[name=scope]:checked");
    const scopeText = chosen && chosen.parentElement ? chosen.parentElement.textContent.trim() : key.scope;
    secret.textContent = key.key || "";
    document.getElementById("key-made-name").textContent = key.name || "";
    document.getElementById("key-made-scope").textContent = scopeText;
    status.hidden = true;
    made.hidden = false;
    const table = document.querySelector("#keys-table tbody");
    if (table) {
      const row = table.insertRow();
      row.dataset.id = key.id;
      row.dataset.scope = key.scope;
      for (const text of [key.name, scopeText, `pk_${key.prefix}_…`, String(key.created_at || "").slice(0, 10)]) {
        row.insertCell().textContent = text;
      }
      const badge = document.createElement("span");
      badge.className = "badge good";
      badge.textContent = table.closest("table").dataset.active || "";
      row.insertCell().append(badge);
      row.insertCell();  // revoking it: after a reload, like every other row
    }
    form.reset();
    made.scrollIntoView({ block: "start" });
    document.getElementById("key-copy").focus();
  });

  document.getElementById("key-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(secret.textContent);
      status.textContent = made.dataset.copied;
      status.hidden = false;
    } catch (error) {  // no clipboard here (plain http, or refused): select it for Ctrl+C
      const range = document.createRange();
      range.selectNodeContents(secret);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
    }
  });
})();
