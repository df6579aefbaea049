// weblog.js: makes /weblog.rpy live. New hits arrive as Server-Sent Events and are
// inserted at the top of the table; aggregates arrive as "stats" events. Every string
// from the log is set with textContent (never innerHTML), so log data stays text.
(function () {
  "use strict";

  var body = document.body;
  var tbody = document.getElementById("hits");
  var live = document.getElementById("live");
  if (!tbody || !body.dataset.events || !window.EventSource) {
    return;
  }
  var limit = parseInt(tbody.dataset.limit, 10) || 35;

  function localTime(iso) {
    var when = new Date(iso);
    return isNaN(when.getTime()) ? iso : when.toLocaleString();
  }

  function age(iso) {
    var seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    if (isNaN(seconds)) { return ""; }
    if (seconds < 0) { return "in the future"; }
    if (seconds < 60) { return seconds + " s ago"; }
    if (seconds < 3600) { return Math.floor(seconds / 60) + " min ago"; }
    if (seconds < 86400) { return Math.floor(seconds / 3600) + " h ago"; }
    return Math.floor(seconds / 86400) + " d ago";
  }

  function showTime(timeElement) {
    var iso = timeElement.getAttribute("datetime");
    timeElement.textContent = localTime(iso);
    var ageElement = timeElement.nextElementSibling;
    if (!ageElement) {
      ageElement = document.createElement("span");
      ageElement.className = "age";
      timeElement.parentNode.appendChild(ageElement);
    }
    ageElement.textContent = age(iso);
  }

  function cell(className, text) {
    var td = document.createElement("td");
    td.className = className;
    if (text !== undefined) { td.textContent = text; }
    return td;
  }

  function referrerCell(referrer) {
    var td = cell("referrer");
    if (referrer === null) {
      td.textContent = "-";
    } else if (/^https?:\/\//i.test(referrer)) {
      var link = document.createElement("a");
      link.href = referrer;
      link.rel = "noopener noreferrer nofollow";
      link.textContent = referrer;
      td.appendChild(link);
    } else {
      td.textContent = referrer;
    }
    return td;
  }

  function recolour() {
    for (var index = 0; index < tbody.rows.length; index += 1) {
      tbody.rows[index].className = "row" + (index % 2);
    }
  }

  function addHit(hit) {
    var row = document.createElement("tr");
    var timeCell = cell("time");
    var timeElement = document.createElement("time");
    timeElement.setAttribute("datetime", hit.time);
    timeCell.appendChild(timeElement);
    row.appendChild(timeCell);
    row.appendChild(cell("client", hit.client));
    row.appendChild(referrerCell(hit.referrer));
    row.appendChild(cell("resource", hit.resource));
    row.appendChild(cell("status", hit.status === null ? "-" : String(hit.status)));
    tbody.insertBefore(row, tbody.firstChild);
    showTime(timeElement);
    while (tbody.rows.length > limit) {
      tbody.deleteRow(tbody.rows.length - 1);
    }
    recolour();
  }

  function fillList(id, items) {
    var list = document.getElementById(id);
    if (!list) { return; }
    while (list.firstChild) { list.removeChild(list.firstChild); }
    items.forEach(function (item) {
      var li = document.createElement("li");
      var count = document.createElement("span");
      count.className = "count";
      count.textContent = String(item[1]);
      var key = document.createElement("span");
      key.className = "key";
      key.textContent = item[0];
      li.appendChild(count);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(key);
      list.appendChild(li);
    });
  }

  function drawChart(perMinute) {
    var svg = document.getElementById("per-minute");
    if (!svg) { return; }
    var height = parseInt(svg.dataset.height, 10) || 120;
    var peak = 1;
    perMinute.forEach(function (minute) { peak = Math.max(peak, minute[1]); });
    var bars = svg.querySelectorAll("rect");
    for (var index = 0; index < bars.length; index += 1) {
      var minute = perMinute[index];
      var count = minute ? minute[1] : 0;
      var barHeight = Math.round(count * (height - 10) / peak);
      bars[index].setAttribute("y", String(height - barHeight));
      bars[index].setAttribute("height", String(barHeight));
      var title = bars[index].querySelector("title");
      if (title && minute) {
        title.textContent = minute[0].slice(0, 16).replace("T", " ") + " UTC: " + count + " hits";
      }
    }
    if (perMinute.length) {
      document.getElementById("per-minute-first").textContent = perMinute[0][0].slice(11, 16);
      document.getElementById("per-minute-last").textContent =
        perMinute[perMinute.length - 1][0].slice(11, 16) + " UTC";
    }
  }

  function showStats(stats) {
    fillList("top-sites", stats.top.sites);
    fillList("top-referrers", stats.top.referrers);
    fillList("top-resources", stats.top.resources);
    fillList("top-statuses", stats.top.statuses);
    drawChart(stats.per_minute);
    var counts = document.getElementById("log-counts");
    if (counts && stats.log) {
      counts.textContent = stats.log.lines + " lines read, " + stats.log.malformed +
        " malformed, " + stats.log.rotations + " rotations";
    }
  }

  function setLive(state, text) {
    live.className = "live-" + state;
    live.textContent = text;
    live.title = "";
  }

  Array.prototype.forEach.call(tbody.querySelectorAll("time"), showTime);
  window.setInterval(function () {
    Array.prototype.forEach.call(tbody.querySelectorAll("time"), function (timeElement) {
      var ageElement = timeElement.nextElementSibling;
      if (ageElement) { ageElement.textContent = age(timeElement.getAttribute("datetime")); }
    });
  }, 1000);

  var url = body.dataset.events;
  var lastId = body.dataset.lastId;
  if (lastId) {
    url += (url.indexOf("?") === -1 ? "?" : "&") + "since=" + encodeURIComponent(lastId);
  }
  setLive("connecting", "connecting\u2026");
  var source = new EventSource(url);
  source.onopen = function () { setLive("on", "live"); };
  source.onerror = function () {
    setLive("retry", source.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting\u2026");
  };
  source.addEventListener("hit", function (event) { addHit(JSON.parse(event.data)); });
  source.addEventListener("stats", function (event) { showStats(JSON.parse(event.data)); });
}());
