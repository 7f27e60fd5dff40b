// hoist dashboard: the live parts. Every page works without this script; with it, times
// show in the viewer's zone, countdowns move, and regions marked data-live refresh
// themselves when the timeline says something happened.
"use strict";

(function () {
  var zone = (Intl.DateTimeFormat().resolvedOptions().timeZone) || "UTC";

  function amount(seconds) {
    seconds = Math.floor(Math.abs(seconds));
    if (seconds < 60) return seconds + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
    return Math.floor(seconds / 86400) + " d";
  }

  function localText(date) {
    return date.toLocaleString(undefined, {
      year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"
    });
  }

  // Every <time datetime> gets the viewer's local time as its tooltip.
  function localizeTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (element) {
      var date = new Date(element.getAttribute("datetime"));
      if (!isNaN(date)) element.title = localText(date) + " (" + zone + ")";
    });
  }

  function tickCountdowns() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (element) {
      var iso = element.getAttribute("data-countdown") || element.getAttribute("datetime");
      var at = new Date(iso);
      if (isNaN(at)) return;
      var left = (at.getTime() - now) / 1000;
      element.textContent = left >= 1 ? "in " + amount(left) : (left > -1 ? "now" : amount(left) + " ago");
    });
  }

  // Parts that only apply while a command waits (re-time, cancel) go once it has left.
  function hideOutdated() {
    var status = document.getElementById("command-status");
    document.querySelectorAll("[data-while-status]").forEach(function (element) {
      if (status && status.textContent.trim() !== element.getAttribute("data-while-status")) {
        element.hidden = true;
      }
    });
  }

  // A live region: refetch this page and put the region's new contents in place.
  function refresher(region, index) {
    var pending = null;
    var running = false;
    function refresh() {
      pending = null;
      if (running) { pending = setTimeout(refresh, 50); return; }
      // Never swap a field out from under someone typing in it: wait until they leave it.
      var active = document.activeElement;
      if (active && region.contains(active) && active.matches("input, select, textarea")) {
        pending = setTimeout(refresh, 300);
        return;
      }
      running = true;
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (response.redirected || !response.ok) { window.location.reload(); return null; }
          return response.text();
        })
        .then(function (html) {
          if (html === null) return;
          var fresh = new DOMParser().parseFromString(html, "text/html")
            .querySelectorAll("[data-live]")[index];
          if (fresh) {
            region.innerHTML = fresh.innerHTML;
            localizeTimes(region);
            tickCountdowns();
            hideOutdated();
          }
        })
        .catch(function () { /* the next event tries again */ })
        .then(function () { running = false; });
    }
    return function () {
      if (pending === null) pending = setTimeout(refresh, 30);
    };
  }

  function follow(region, index) {
    var url = "/live/" + region.getAttribute("data-live");
    var since = region.getAttribute("data-since");
    // From the page's rendering on: what happened before it connected comes first.
    if (since) url += (url.indexOf("?") < 0 ? "?" : "&") + "since=" + encodeURIComponent(since);
    var source = new EventSource(url);
    var poke = refresher(region, index);
    if (!since) source.onopen = poke;
    source.onmessage = poke;
    region.setAttribute("data-following", "");
  }

  // The launch form: the browser's zone, and the picked time shown in it and in UTC.
  function launchForm(form) {
    var zoneField = form.querySelector("[name=zone]");
    if (zoneField && !zoneField.value) zoneField.value = zone;
    var local = form.querySelector("[name=at]");
    var preview = form.querySelector("[data-when-preview]");
    function show() {
      if (!local || !preview) return;
      if (!local.value) { preview.textContent = ""; return; }
      var picked = zoneField ? zoneField.value : zone;
      preview.textContent = local.value.replace("T", " ") + " " + picked +
        (picked === zone ? " = " + new Date(local.value).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "");
    }
    if (local) local.addEventListener("input", show);
    if (zoneField) zoneField.addEventListener("change", show);
    show();
  }

  // Log lines as they come, for the logs page.
  function followLogs(pane) {
    var source = new EventSource(pane.getAttribute("data-follow-logs"));
    var list = pane.querySelector("ol") || pane.appendChild(document.createElement("ol"));
    source.onmessage = function (message) {
      var line = JSON.parse(message.data);
      var item = document.createElement("li");
      item.textContent = (line.host ? line.host + " " : "") + (line.at ? line.at + " " : "") + line.line;
      list.appendChild(item);
      while (list.children.length > 2000) list.removeChild(list.firstChild);
      if (pane.getAttribute("data-stick") !== "no") item.scrollIntoView({ block: "end" });
    };
    pane.setAttribute("data-following", "");
  }

  document.addEventListener("DOMContentLoaded", function () {
    localizeTimes(document);
    tickCountdowns();
    setInterval(tickCountdowns, 1000);
    document.querySelectorAll("[data-live]").forEach(follow);
    document.querySelectorAll("form[data-when]").forEach(launchForm);
    document.querySelectorAll("[data-follow-logs]").forEach(followLogs);
    document.querySelectorAll("[data-zone-local]").forEach(function (element) { element.textContent = zone; });
  });
})();
