// Stars, tags and copy buttons, wherever they appear (history, lightbox, detail page).
(() => {
  "use strict";

  // htmx leaves 4xx answers unswapped; forms marked data-swap-errors show theirs (a field error).
  document.addEventListener("htmx:beforeSwap", (event) => {
    const status = event.detail.xhr.status;
    if ((status === 400 || status === 422) && event.detail.elt.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // One generation can have a star button per image tile and one in the lightbox: keep them equal.
  document.addEventListener("starChanged", (event) => {
    const { id, starred } = event.detail;
    document.querySelectorAll(`form[data-star-for="${id}"]`).forEach((form) => {
      form.querySelector("input[name=starred]").value = starred ? "0" : "1";
      const button = form.querySelector("button");
      button.classList.toggle("on", starred);
      button.setAttribute("aria-pressed", String(starred));
      button.textContent = starred ? "★" : "☆";
      button.title = `${starred ? "Unstar" : "Star"} (s)`;
      button.setAttribute("aria-label", `${starred ? "Unstar" : "Star"} generation ${id}`);
    });
    document.querySelectorAll(`[data-generation="${id}"]`).forEach((element) => {
      element.classList.toggle("starred", starred);
    });
  });

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    // Plain-HTTP deployments have no Clipboard API: fall back to a selected textarea.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy], [data-copy-from]");
    if (!button) return;
    const source = button.dataset.copyFrom && document.getElementById(button.dataset.copyFrom);
    const text = source ? JSON.stringify(JSON.parse(source.textContent), null, 2) : button.dataset.copy;
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    try {
      await copyText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed";
    }
    setTimeout(() => { button.textContent = label; }, 1500);
  });
})();
