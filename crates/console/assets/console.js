// hookpost console: small touches; every page works without it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Times come in UTC; the title shows the reader's own zone.
  for (const t of document.querySelectorAll("time[datetime]")) {
    const d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) t.title = d.toLocaleString();
  }
  // "All events" makes the single event types moot: grey them out.
  const all = document.getElementById("events-all");
  const grid = document.querySelector(".event-grid");
  if (all && grid) {
    const sync = () => grid.classList.toggle("off", all.checked);
    all.addEventListener("change", sync);
    sync();
  }
});
