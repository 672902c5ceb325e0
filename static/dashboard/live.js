// Refreshes the parts of a page that name event types (data-live-types) when such an event is published, over the
// platform's event stream (Server-Sent Events, /api/v1/events/stream/), so the pages do not poll. Each part is an
// htmx element triggered by "live-refresh". Without the stream (no EventSource, or it keeps failing) every part
// refreshes once a minute until the stream is back; EventSource reconnects by itself, resuming after the last
// event it saw (Last-Event-ID). <body data-live="on|off"> tells whether the stream is connected.
(function () {
  "use strict";

  var FALLBACK_MS = 60000;
  var DEBOUNCE_MS = 300; // a booking publishes several events at once: one refresh for them

  function typesOf(element) {
    return (element.getAttribute("data-live-types") || "").split(",").filter(Boolean);
  }

  function liveParts() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live-types]"));
  }

  function start() {
    var parts = liveParts();
    if (!parts.length || !window.htmx) {
      return;
    }
    var wanted = {};
    parts.forEach(function (element) {
      typesOf(element).forEach(function (type) {
        wanted[type] = true;
      });
    });
    var types = Object.keys(wanted);
    var waiting = {};
    var fallback = null;

    function refreshPart(id) {
      if (waiting[id]) {
        return;
      }
      waiting[id] = window.setTimeout(function () {
        delete waiting[id];
        var element = document.getElementById(id); // htmx swapped the old one out
        if (element) {
          window.htmx.trigger(element, "live-refresh");
        }
      }, DEBOUNCE_MS);
    }

    function onEvent(type) {
      liveParts().forEach(function (element) {
        if (element.id && typesOf(element).indexOf(type) >= 0) {
          refreshPart(element.id);
        }
      });
    }

    function poll() {
      if (fallback === null) {
        fallback = window.setInterval(function () {
          liveParts().forEach(function (element) {
            window.htmx.trigger(element, "live-refresh");
          });
        }, FALLBACK_MS);
      }
    }

    if (!types.length) {
      return;
    }
    if (!window.EventSource) {
      poll();
      return;
    }
    var url = document.body.getAttribute("data-event-stream") + "?types=" + encodeURIComponent(types.join(","));
    var source = new window.EventSource(url);
    source.onopen = function () {
      if (fallback !== null) {
        window.clearInterval(fallback);
        fallback = null;
      }
      document.body.setAttribute("data-live", "on");
    };
    source.onerror = function () {
      document.body.setAttribute("data-live", "off");
      poll();
    };
    types.forEach(function (type) {
      source.addEventListener(type, function () {
        onEvent(type);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
