/* Starts ReDoc on /api/redoc/ (templates/drf_spectacular/redoc.html) from a file rather than an
   inline script, so the page runs under script-src 'self'. */
(function () {
  "use strict";
  var container = document.getElementById("redoc-container");
  if (!container || typeof Redoc === "undefined") return;
  var settings = JSON.parse(container.getAttribute("data-settings") || "{}");
  Redoc.init(container.getAttribute("data-spec-url"), settings, container);
})();
