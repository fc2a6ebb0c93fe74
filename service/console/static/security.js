// The security page's recovery codes, shown once: download them as a text file (a Blob made
// here, so nothing goes back to the server) or copy them.
"use strict";

(() => {
  const panel = document.getElementById("recovery-codes");
  if (!panel) return;
  const codes = [...panel.querySelectorAll("#codes-list code")].map((node) => node.textContent.trim());
  const text = `${panel.dataset.fileHead}\n\n${codes.join("\n")}\n`;
  const status = document.getElementById("codes-status");

  document.getElementById("codes-download").addEventListener("click", () => {
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = "passcast-recovery-codes.txt";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });

  document.getElementById("codes-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = panel.dataset.copied;
    } catch (error) {  // no clipboard (plain http, or refused): select the codes for Ctrl+C instead
      const range = document.createRange();
      range.selectNodeContents(document.getElementById("codes-list"));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    status.hidden = !status.textContent;
  });
})();
