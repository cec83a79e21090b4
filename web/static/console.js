// Live updates of the console pages: rows sent by the server as server-sent events
// (/live/...) go at the top of the table that names the stream in data-live. The rows are
// HTML the server rendered and escaped; nothing here builds markup from data.
"use strict";

document.querySelectorAll("[data-live]").forEach(function (target) {
  var limit = parseInt(target.getAttribute("data-live-limit") || "50", 10);
  var source = new EventSource(target.getAttribute("data-live"));
  source.onopen = function () { target.setAttribute("data-live-state", "open"); };
  source.onerror = function () { target.setAttribute("data-live-state", "reconnecting"); };
  source.addEventListener("row", function (event) {
    var holder = document.createElement("template");
    holder.innerHTML = event.data;
    var row = holder.content.firstElementChild;
    if (!row || (row.id && document.getElementById(row.id))) { return; }
    row.classList.add("new");
    target.insertBefore(row, target.firstElementChild);
    while (target.children.length > limit) { target.removeChild(target.lastElementChild); }
    var empty = document.getElementById(target.getAttribute("data-live-empty") || "");
    if (empty) { empty.hidden = true; }
  });
});
