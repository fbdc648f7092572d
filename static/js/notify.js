// While I am signed in, on any page: a toast when one of my generations finishes, and my running
// count as a badge on the document title and the favicon. Polls a small JSON endpoint; the last
// answer's time and the ids already shown live in sessionStorage, so nothing finishing while I move
// between pages is missed or shown twice.
(() => {
  "use strict";

  const script = document.currentScript;
  const url = script.dataset.url;
  const interval = Number(script.dataset.interval || 5000);
  const SINCE = "swarmdeck.notify.since";
  const SEEN = "swarmdeck.notify.seen";
  const baseTitle = document.title.replace(/^\(\d+\) /, "");
  let plainIcon = null;

  function seenIds() {
    try {
      return new Set(JSON.parse(sessionStorage.getItem(SEEN) || "[]"));
    } catch {
      return new Set();
    }
  }

  function remember(ids) {
    // The last 100 are enough: the server only reports the last few minutes.
    sessionStorage.setItem(SEEN, JSON.stringify([...ids].slice(-100)));
  }

  function toast(item) {
    const container = document.getElementById("toasts");
    if (!container) return;
    const box = document.createElement("div");
    box.className = `toast status-${item.status}`;
    box.setAttribute("role", "status");
    box.dataset.generation = String(item.id);
    const link = document.createElement("a");
    link.href = item.url;
    link.textContent = `#${item.id} ${item.status_display.toLowerCase()}`;
    const text = document.createElement("span");
    text.textContent = item.prompt ? ` · ${item.prompt}` : "";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "link";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", () => box.remove());
    box.append(link, text, close);
    container.append(box);
    setTimeout(() => box.remove(), 10000);
  }

  function iconLink() {
    let link = document.querySelector("link[rel~='icon']");
    if (!link) {
      link = document.createElement("link");
      link.rel = "icon";
      document.head.append(link);
    }
    return link;
  }

  function drawIcon(count) {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 32;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#1d232b";
    ctx.beginPath();
    ctx.roundRect(0, 0, 32, 32, 6);
    ctx.fill();
    ctx.fillStyle = "#fff";
    ctx.font = "bold 20px sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText("S", 16, 17);
    if (count > 0) {
      ctx.fillStyle = "#c23b3b";
      ctx.beginPath();
      ctx.arc(22, 10, 10, 0, 2 * Math.PI);
      ctx.fill();
      ctx.fillStyle = "#fff";
      ctx.font = "bold 13px sans-serif";
      ctx.fillText(count > 9 ? "9+" : String(count), 22, 11);
    }
    return canvas.toDataURL("image/png");
  }

  function badge(count) {
    document.title = count > 0 ? `(${count}) ${baseTitle}` : baseTitle;
    document.documentElement.dataset.running = String(count);
    plainIcon = plainIcon || drawIcon(0);
    iconLink().href = count > 0 ? drawIcon(count) : plainIcon;
  }

  async function poll() {
    const target = new URL(url, window.location.href);
    const since = sessionStorage.getItem(SINCE);
    if (since) target.searchParams.set("since", since);
    let keepPolling = true;
    try {
      const response = await fetch(target, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.status === 401 || response.status === 403) {
        keepPolling = false; // signed out in another tab
        return;
      }
      if (!response.ok) return;
      const data = await response.json();
      const seen = seenIds();
      for (const item of data.finished) {
        // The very first poll sets the baseline: what finished before it is not news.
        if (since && !seen.has(item.id)) toast(item);
        seen.add(item.id);
      }
      remember(seen);
      sessionStorage.setItem(SINCE, data.now);
      badge(data.running);
    } catch {
      // Offline or the server restarting: the next poll catches up (since is unchanged).
    } finally {
      if (keepPolling) setTimeout(poll, interval);
    }
  }

  poll();
})();
