// The case page's reply composer.
// - "Use" on a suggested reply or approved fact puts its text in the composer.
// - While she types, the page tells the server she is answering (at most every
//   30 s), and shows which colleagues are answering the same case.
"use strict";

function composer() {
  // The new-reply row, not the inline's hidden template row (__prefix__).
  return [
    ...document.querySelectorAll('textarea[name^="replies-"][name$="-text"]'),
  ].findLast((box) => !box.name.includes("__prefix__"));
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-reply-text]");
  const box = composer();
  if (!button || !box) return;
  box.value = button.dataset.replyText;
  box.dispatchEvent(new Event("input", { bubbles: true }));
  box.scrollIntoView({ block: "center" });
  box.focus();
});

let lastSignal = 0;
document.addEventListener("input", (event) => {
  const status = document.getElementById("answering");
  if (!status || event.target !== composer()) return;
  if (Date.now() - lastSignal < 30000) return;
  lastSignal = Date.now();
  const token = document.querySelector("[name=csrfmiddlewaretoken]");
  const body = new FormData();
  if (token) body.append("csrfmiddlewaretoken", token.value);
  fetch(status.dataset.answeringUrl, { method: "POST", body, credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : { others: [] }))
    .then(({ others }) => {
      status.textContent = others
        .map((other) => status.dataset.template
          ? status.dataset.template.replace("NAME", other.name).replace("SINCE", other.since)
          : `${other.name} (${other.since})`)
        .join(" ");
      status.dataset.lastSignal = new Date().toISOString();
    })
    .catch(() => {});
});
