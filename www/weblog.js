// weblog.js: makes /weblog.rpy live. New hits arrive as Server-Sent Events and are
// inserted at the top of the table; aggregates arrive as "stats" events. The shapes it fills
// are the server's: a new row is a copy of the page's <template id="hit-row"> (the server's
// row, empty), a list item a copy of its list's <template>, the log's counts its span's
// data-format. Every string from the log is set with textContent (never innerHTML), so log
// data stays text.
(function () {
  "use strict";

  var body = document.body;
  var tbody = document.getElementById("hits");
  var rowTemplate = document.getElementById("hit-row");
  var live = document.getElementById("live");
  if (!tbody) {
    return;
  }
  var limit = parseInt(tbody.dataset.limit, 10) || 35;

  function localTime(iso) {
    var when = new Date(iso);
    return isNaN(when.getTime()) ? iso : when.toLocaleString();
  }

  function localClock(iso) {
    // the time of day in the reader's zone (the age below says which day)
    var when = new Date(iso);
    return isNaN(when.getTime()) ? iso : when.toLocaleTimeString();
  }

  function age(iso) {
    var seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    if (isNaN(seconds)) { return ""; }
    if (seconds < 0) { return "in the future"; }
    if (seconds < 60) { return seconds + " s ago"; }
    if (seconds < 3600) { return Math.floor(seconds / 60) + " min ago"; }
    if (seconds < 86400) { return Math.floor(seconds / 3600) + " h ago"; }
    return localDate(iso);  // beyond a day, a date reads better than "412 d ago"
  }

  function localDate(iso) {
    // the day of a time, in the reader's zone, as YYYY-MM-DD
    var when = new Date(iso);
    var month = String(when.getMonth() + 1), day = String(when.getDate());
    return when.getFullYear() + "-" + (month.length < 2 ? "0" : "") + month + "-" +
      (day.length < 2 ? "0" : "") + day;
  }

  function showTime(timeElement) {
    var iso = timeElement.getAttribute("datetime");
    timeElement.textContent = localClock(iso);
    timeElement.title = localTime(iso);
    var ageElement = timeElement.nextElementSibling;
    if (!ageElement) {
      ageElement = document.createElement("span");
      ageElement.className = "age";
      timeElement.parentNode.appendChild(ageElement);
    }
    ageElement.textContent = age(iso);
  }

  // Which referrers are links, and what they show: the rules of referrer_link in weblog/links.py,
  // so that a row added here reads as the server renders it.
  var LINKABLE = new RegExp("^(https?://)" +
    "(\\[[0-9A-Fa-f:.]+\\]|[^\\x00-\\x20\\x7f#%/:<>?@\\[\\\\\\]^|]+)" +
    "(?::([0-9]{1,5}))?(?:[/?#][\\s\\S]*)?$", "i");
  var HOST_CHARACTER = /^[\p{L}\p{Mn}\p{Mc}\p{Nd}]$/u;
  // Invisible letters and marks IDNA drops, and those the browser takes but IDNA 2008 refuses.
  var UNLINKABLE = new RegExp("[\\u034f\\u0640\\u07fa\\u1100-\\u11ff\\u17b4\\u17b5\\u180b-\\u180f" +
    "\\u20d0-\\u20f0\\u302e-\\u303b\\ua960-\\ua97f\\ud7b0-\\ud7ff\\ufe00-\\ufe0f" +
    "\\u{1d165}-\\u{1d1ad}\\u{1d242}-\\u{1d244}\\u{e0100}-\\u{e01ef}]", "u");
  var ASCII_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
  var NUMBER = /^(?:[0-9]+|0x[0-9a-f]*)$/;

  function asciiHost(host) {
    // A host that is not ASCII in its IDNA (punycode) form, or null when it cannot be encoded.
    if (host.normalize("NFKC") !== host || UNLINKABLE.test(host)) { return null; }
    if (host.split(".").some(function (label) {
      return !label || label.charAt(0) === "-" || label.charAt(label.length - 1) === "-" ||
        label.indexOf("--") !== -1;
    })) {
      return null;
    }
    if (!Array.from(host).every(function (point) {
      return point.charCodeAt(0) < 0x80 || HOST_CHARACTER.test(point);
    })) {
      return null;
    }
    var encoded;
    try {
      encoded = new URL("http://" + host + "/").hostname;  // the browser's own IDNA (UTS-46)
    } catch (error) {
      return null;
    }
    var labels = encoded.split(".");
    if (encoded.length > 253 || NUMBER.test(labels[labels.length - 1]) ||
        !labels.every(function (label) { return ASCII_LABEL.test(label); })) {
      return null;
    }
    return encoded;
  }

  function referrerLink(referrer) {
    // The URL a referrer links to and shows, its host in ASCII; null when it is not a link.
    var found = LINKABLE.exec(referrer);
    if (!found || (found[3] !== undefined && parseInt(found[3], 10) > 65535)) { return null; }
    var host = found[2];
    if (/^[\x00-\x7f]*$/.test(host)) { return referrer; }
    var encoded = asciiHost(host);
    if (encoded === null) { return null; }
    return found[1] + encoded + referrer.slice(found[1].length + host.length);
  }

  // How a cell shows its field of a hit, by the cell's class; any other cell shows the field
  // of its class as text, "-" when there is none (as the server's rows show them).
  var FILL = {
    time: function (td, iso) {
      td.querySelector("time").setAttribute("datetime", iso);
    },
    referrer: function (td, referrer) {
      var link = referrer === null ? null : referrerLink(referrer);
      if (link === null) {
        td.textContent = referrer === null ? "-" : referrer;  // no link: the template's goes
      } else {
        var anchor = td.querySelector("a");
        anchor.href = link;
        anchor.textContent = link;
      }
    }
  };

  function fillCell(td, hit) {
    var value = hit[td.className];
    if (FILL.hasOwnProperty(td.className)) {
      FILL[td.className](td, value);
    } else {
      td.textContent = value === null || value === undefined ? "-" : String(value);
    }
  }

  function recolour() {
    for (var index = 0; index < tbody.rows.length; index += 1) {
      tbody.rows[index].className = "row" + (index % 2);
    }
  }

  function addHit(hit) {
    var row = rowTemplate.content.firstElementChild.cloneNode(true);
    Array.prototype.forEach.call(row.cells, function (td) { fillCell(td, hit); });
    tbody.insertBefore(row, tbody.firstChild);
    showTime(row.querySelector("time"));
    while (tbody.rows.length > limit) {
      tbody.deleteRow(tbody.rows.length - 1);
    }
    recolour();
  }

  function shownSite(site) {
    // A referring site as the server's top list shows it: a host not ASCII in IDNA form.
    return /^[\x00-\x7f]*$/.test(site) ? site : (asciiHost(site) || site);
  }

  function shownReferrer(referrer) {
    return referrerLink(referrer) || referrer;
  }

  // How a top list shows its keys, by its data-display (the server's panels say which).
  var DISPLAY = {
    text: function (key) { return key; },
    host: shownSite,
    url: shownReferrer
  };

  function drillDown(list, key) {
    // The view the list's data-view names with the list's filter set to key, as the server's
    // ViewLinks.to makes it (weblog/viewlinks.py): its path is the server's, so it stays here.
    var view = list.dataset.view;
    var mark = view.indexOf("?");
    var params = new URLSearchParams(mark === -1 ? "" : view.slice(mark + 1));
    params.set(list.dataset.filter, key);
    return (mark === -1 ? view : view.slice(0, mark)) + "?" + params.toString();
  }

  function fillList(list, items) {
    // The list's items again, each a copy of the list's template, keys shown as it displays,
    // each a link to its drill-down view when the list has a filter (but "-": no value).
    var template = list.querySelector("template");
    if (!template) { return; }
    var shown = DISPLAY[list.dataset.display] || DISPLAY.text;
    var linked = Boolean(list.dataset.view && list.dataset.filter);
    while (template.nextSibling) { list.removeChild(template.nextSibling); }
    items.forEach(function (item) {
      var li = template.content.firstElementChild.cloneNode(true);
      var key = String(item[0]);
      li.querySelector(".count").textContent = String(item[1]);
      var keyElement = li.querySelector(".key");
      if (linked && key !== "-") {
        var anchor = document.createElement("a");
        anchor.setAttribute("href", drillDown(list, key));
        anchor.textContent = shown(key);
        keyElement.appendChild(anchor);
      } else {
        keyElement.textContent = shown(key);
      }
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
    Object.keys(stats.top).forEach(function (name) {
      var list = document.getElementById("top-" + name);
      if (list && Array.isArray(stats.top[name])) { fillList(list, stats.top[name]); }
    });
    drawChart(stats.per_minute);
    var counts = document.getElementById("log-counts");
    if (counts && counts.dataset.format && stats.log) {
      counts.textContent = counts.dataset.format.replace(/\{(\w+)\}/g, function (_, name) {
        return String(stats.log[name]);
      });
    }
    showHistory(stats.history, stats.history_text);
  }

  function showHistory(history, text) {
    // the server words the sentence (history_text); the bar shows how far the backfill is
    var paragraph = document.getElementById("history");
    if (!paragraph || !history || typeof text !== "string") { return; }
    paragraph.className = "history state-" + String(history.state).replace(/[^a-z]/g, "");
    document.getElementById("history-text").textContent = text;
    var bar = document.getElementById("history-bar");
    bar.max = Math.max(Number(history.bytes_total) || 0, 1);
    bar.value = Number(history.bytes_done) || 0;
    bar.hidden = history.state !== "backfilling";
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

  if (!rowTemplate || !body.dataset.events || !window.EventSource) {
    return;  // a page without live updates (a history view): its times are shown, no more
  }
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

// weblog.js, the history page's chart: a drag across its bars (down on one, up on another)
// opens the window from the first bar's start to the last bar's end, the view's other
// parameters kept; each bar stays the link to its own window (and so works without script).
(function () {
  "use strict";

  var svg = document.getElementById("buckets");
  if (!svg || !window.URLSearchParams) { return; }
  var bars = Array.prototype.slice.call(svg.querySelectorAll("a[href]"));
  var first = null;

  function barAt(event) {
    // the index of the bar under the pointer (a touch keeps its first target), or -1
    var element = document.elementFromPoint(event.clientX, event.clientY);
    var link = element && element.closest ? element.closest("#buckets a") : null;
    return link ? bars.indexOf(link) : -1;
  }

  function mark(from, to) {
    bars.forEach(function (bar, index) {
      bar.classList.toggle("selected", from !== null &&
        index >= Math.min(from, to) && index <= Math.max(from, to));
    });
  }

  function spanning(low, high) {
    // the first bar's view (its path is the server's: it stays here), to the last bar's end
    var href = bars[low].getAttribute("href");
    var cut = href.indexOf("?");
    var params = new URLSearchParams(cut === -1 ? "" : href.slice(cut + 1));
    var last = bars[high].getAttribute("href");
    var end = new URLSearchParams(last.slice(last.indexOf("?") + 1)).get("to");
    if (end !== null) { params.set("to", end); }
    return (cut === -1 ? href : href.slice(0, cut)) + "?" + params.toString();
  }

  svg.addEventListener("dragstart", function (event) { event.preventDefault(); });
  svg.addEventListener("pointerdown", function (event) {
    if (event.button !== 0) { return; }
    var index = barAt(event);
    first = index === -1 ? null : index;
    if (first !== null) { mark(first, first); }
  });
  svg.addEventListener("pointermove", function (event) {
    var index = first === null ? -1 : barAt(event);
    if (index !== -1) { mark(first, index); }
  });
  document.addEventListener("pointerup", function (event) {
    if (first === null) { return; }
    var start = first;
    var end = barAt(event);
    first = null;
    if (end === -1 || end === start) {  // a click on one bar follows its own link
      mark(null, null);
      return;
    }
    event.preventDefault();
    window.location.assign(spanning(Math.min(start, end), Math.max(start, end)));
  });
  document.addEventListener("pointercancel", function () {
    first = null;
    mark(null, null);
  });
}());
