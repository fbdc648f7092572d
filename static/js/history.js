// The history page: multi-select with shift-click and the selection bar; the lightbox (←/→ through
// the results, → past the last loaded one loads the next page; Esc closes, "s" stars) with its
// server-rendered metadata panel.
(() => {
  "use strict";

  const isTyping = (element) =>
    element instanceof HTMLElement &&
    (element.isContentEditable || element.matches("input, textarea, select"));

  // --- selection -------------------------------------------------------------------------------
  const bar = document.querySelector("[data-selection-bar]");
  const boxes = () => [...document.querySelectorAll("input[data-select]")];
  let anchor = null; // the last box clicked without shift: one end of a shift-click range

  function updateBar() {
    if (!bar) return;
    const checked = boxes().filter((box) => box.checked);
    bar.querySelector("[data-selection-count]").textContent = String(checked.length);
    bar.hidden = checked.length === 0;
    bar.querySelector("[data-clear-selection]").hidden = checked.length === 0;
    const images = checked.filter((box) => box.name === "image").length;
    const compare = bar.querySelector("[data-compare]");
    // Compare wants exactly two images; a list row stands for all of its images.
    compare.disabled = !(images === 2 && checked.length === 2);
    boxes().forEach((box) => box.closest(".tile, tr")?.classList.toggle("selected", box.checked));
  }

  document.addEventListener("click", (event) => {
    const box = event.target.closest("input[data-select]");
    if (!box) return;
    const all = boxes();
    if (event.shiftKey && anchor && all.includes(anchor)) {
      const [from, to] = [all.indexOf(anchor), all.indexOf(box)].sort((a, b) => a - b);
      all.slice(from, to + 1).forEach((other) => { other.checked = box.checked; });
    } else {
      anchor = box;
    }
    updateBar();
  });

  bar?.querySelector("[data-clear-selection]").addEventListener("click", () => {
    boxes().forEach((box) => { box.checked = false; });
    anchor = null;
    updateBar();
  });

  // Pages appended by "Older →" and a new layout from the density switch start unselected.
  document.addEventListener("htmx:afterSettle", updateBar);
  updateBar();

  // --- lightbox --------------------------------------------------------------------------------
  const dialog = document.getElementById("lightbox");
  if (!dialog) return;
  const img = dialog.querySelector("[data-lightbox-img]");
  const panel = dialog.querySelector("[data-lightbox-panel]");
  const counter = dialog.querySelector("[data-lightbox-counter]");
  const note = dialog.querySelector("[data-lightbox-note]");
  const links = () => [...document.querySelectorAll("#results [data-lightbox-image]")];
  let current = -1;
  let loadingOlder = false;

  const say = (text) => { note.textContent = text ? ` · ${text}` : ""; };

  function show(index) {
    const all = links();
    if (!all.length) return;
    current = Math.max(0, Math.min(index, all.length - 1));
    const link = all[current];
    dialog.dataset.imageId = link.dataset.lightboxImage;
    img.src = link.dataset.full;
    img.alt = link.querySelector("img")?.alt || "";
    counter.textContent = `${current + 1} / ${all.length}`;
    say("");
    htmx.ajax("GET", link.dataset.panel, { target: panel, swap: "innerHTML" });
    if (!dialog.open) dialog.showModal();
    link.scrollIntoView({ block: "nearest" });
  }

  // Resolves once the "Older →" control's request has swapped in the next page (true) or failed.
  // The control keeps the cursor, target and swap; a request it already has in flight (scrolled
  // into view) is waited for, not doubled. htmx.ajax rather than a click: a control swapped in a
  // moment ago is not wired up until it settles.
  function loadOlder(more) {
    return new Promise((resolve) => {
      const done = (event) => {
        if (event.detail.requestConfig?.elt !== more) return;
        document.removeEventListener("htmx:afterRequest", done);
        resolve(Boolean(event.detail.successful));
      };
      document.addEventListener("htmx:afterRequest", done);
      if (more.classList.contains(htmx.config.requestClass)) return;
      // A failure also arrives as htmx:afterRequest, above; the promise need not report it again.
      htmx.ajax("GET", more.getAttribute("hx-get"), { source: more }).catch(() => {});
    });
  }

  async function showNext() {
    if (current < links().length - 1) return show(current + 1);
    if (loadingOlder) return; // one page at a time, however often → is pressed
    const more = document.querySelector("#results .load-more [hx-get]");
    if (!more) return say("no older images");
    loadingOlder = true;
    dialog.setAttribute("aria-busy", "true");
    say("loading older images…");
    const loaded = await loadOlder(more);
    loadingOlder = false;
    dialog.removeAttribute("aria-busy");
    if (!dialog.open) return;
    if (!loaded) return say("could not load older images; press → to try again");
    showNext(); // a page of generations without images moves on to the page after it
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("#results [data-lightbox-image]");
    // Modified clicks keep their usual meaning (open the detail page in a new tab…).
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    show(links().indexOf(link));
  });

  // On the document: after a swap in the panel the focus may have fallen back to <body>.
  document.addEventListener("keydown", (event) => {
    if (!dialog.open || isTyping(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "ArrowLeft") {
      event.preventDefault();
      show(current - 1);
    } else if (event.key === "ArrowRight") {
      event.preventDefault();
      showNext();
    } else if (event.key === "s") {
      event.preventDefault();
      // Through htmx directly: a panel swapped in a moment ago is not wired up until it settles.
      const form = panel.querySelector("form.star-form[hx-post]");
      if (form) htmx.ajax("POST", form.getAttribute("hx-post"), { source: form, target: form, swap: "outerHTML" });
    }
  });

  dialog.querySelector("[data-lightbox-prev]").addEventListener("click", () => show(current - 1));
  dialog.querySelector("[data-lightbox-next]").addEventListener("click", showNext);
  dialog.querySelector("[data-lightbox-close]").addEventListener("click", () => dialog.close());
  // A click on the backdrop (the dialog itself, outside its content) closes it.
  dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
  dialog.addEventListener("close", () => {
    img.removeAttribute("src");
    panel.replaceChildren();
    links()[current]?.focus();
  });
})();
