// The webhooks pages: a new or rotated signing secret is shown here once (the API's answer is the
// only place it appears), and a test delivery reloads the list after a moment so it shows up.
"use strict";

(() => {
  document.addEventListener("webhook-secret", (event) => {
    const answer = event.detail || {};
    const panel = document.getElementById("secret-panel");
    document.getElementById("new-secret").textContent = answer.secret || "";
    if (event.target.id === "webhook-form" && answer.id) {
      const link = document.getElementById("secret-link");
      link.href = `/console/webhooks/${encodeURIComponent(answer.id)}`;
      document.getElementById("secret-next").hidden = false;
      event.target.reset();
    }
    panel.hidden = false;
    panel.focus();
  });
  document.addEventListener("webhook-test", () => {
    setTimeout(() => window.location.reload(), 1500);
  });
})();
