// Keyboard shortcuts on every page: Ctrl/Cmd+Enter submits the generate form, "?" lists them all.
// The gallery's own keys (←/→/Esc/s in the lightbox) live in history.js.
(() => {
  "use strict";

  const SHORTCUTS = [
    ["Ctrl + Enter  /  ⌘ + Enter", "Generate (submit the generate form)"],
    ["?", "Show or hide this list"],
    ["← / →", "Previous / next image in the lightbox"],
    ["Esc", "Close the lightbox or this list"],
    ["s", "Star or unstar the image open in the lightbox"],
    ["Shift + click", "Select a range of images or rows"],
  ];

  const isTyping = (element) =>
    element instanceof HTMLElement &&
    (element.isContentEditable || element.matches("input, textarea, select"));

  let overlay = null;

  function buildOverlay() {
    const dialog = document.createElement("dialog");
    dialog.id = "shortcuts";
    dialog.className = "shortcuts";
    dialog.setAttribute("aria-labelledby", "shortcuts-title");
    const title = document.createElement("h2");
    title.id = "shortcuts-title";
    title.textContent = "Keyboard shortcuts";
    const list = document.createElement("dl");
    for (const [keys, what] of SHORTCUTS) {
      const dt = document.createElement("dt");
      const kbd = document.createElement("kbd");
      kbd.textContent = keys;
      dt.append(kbd);
      const dd = document.createElement("dd");
      dd.textContent = what;
      list.append(dt, dd);
    }
    const close = document.createElement("button");
    close.type = "button";
    close.textContent = "Close";
    close.addEventListener("click", () => dialog.close());
    dialog.append(title, list, close);
    document.body.append(dialog);
    return dialog;
  }

  function toggleOverlay() {
    overlay = overlay || buildOverlay();
    if (overlay.open) overlay.close();
    else overlay.showModal();
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      const form =
        event.target.closest?.("form[data-submit-shortcut]") ||
        document.querySelector("form[data-submit-shortcut]");
      if (form) {
        event.preventDefault();
        form.requestSubmit();
      }
      return;
    }
    if (event.key === "?" && !event.ctrlKey && !event.metaKey && !event.altKey && !isTyping(event.target)) {
      event.preventDefault();
      toggleOverlay();
    }
  });
})();
