// The staff page: what the API answers once. A new cashier's token and a new till's pairing code
// (the QR the API drew, a data: PNG) are put on screen here; reloading would lose them, so the
// page waits for "Done".
"use strict";

(() => {
  function show(panelId, textId, answer, fill) {
    const panel = document.getElementById(panelId);
    const text = document.getElementById(textId);
    text.textContent = text.dataset.template.replace("{name}", answer.name || "");
    fill();
    panel.hidden = false;
    panel.scrollIntoView({ block: "start" });
    panel.querySelector("a").focus();
  }

  document.addEventListener("cashier-made", (event) => {
    const answer = event.detail;
    show("cashier-made", "cashier-made-text", answer, () => {
      document.getElementById("cashier-made-token").textContent = answer.token;
    });
    event.target.reset();
  });

  document.addEventListener("till-made", (event) => {
    const answer = event.detail;
    show("till-made", "till-made-text", answer, () => {
      if (typeof answer.pair_qr === "string" && answer.pair_qr.startsWith("data:image/png;base64,")) {
        document.getElementById("till-qr").src = answer.pair_qr;
      }
      document.getElementById("till-pair-url").textContent = answer.pair_url;
    });
    event.target.reset();
  });
})();
