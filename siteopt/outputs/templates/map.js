/* siteopt web map: pan, zoom, layer toggles, site popups and optional OpenStreetMap tiles.
   Plain JavaScript, no libraries, nothing fetched unless the user ticks the tiles box.
   Every text from the data is inserted with textContent (never as HTML). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("siteopt-data").textContent);
  var svg = document.getElementById("map");
  var wrap = document.getElementById("mapwrap");
  var popup = document.getElementById("popup");
  var info = document.getElementById("info");
  var F = data.frame;
  var SVGNS = "http://www.w3.org/2000/svg";
  var view = { x: 0, y: 0, w: F.w, h: F.h };
  var MIN_W = 40;          /* 400 m across at most zoomed in */
  var MAX_W = F.w * 3;
  var tilesOn = false;

  /* ------------------------------------------------------------------ projection */
  /* EPSG:6433: Lambert conic conformal (2SP) on GRS 1980 (Snyder 1987, eqs. 15-1 to 15-11). */
  var proj = (function (p) {
    var rad = Math.PI / 180, a = p.a, f = 1 / p.invf, e2 = 2 * f - f * f, e = Math.sqrt(e2);
    function m(phi) { var s = Math.sin(phi); return Math.cos(phi) / Math.sqrt(1 - e2 * s * s); }
    function t(phi) {
      var s = Math.sin(phi);
      return Math.tan(Math.PI / 4 - phi / 2) / Math.pow((1 - e * s) / (1 + e * s), e / 2);
    }
    var p1 = p.lat1 * rad, p2 = p.lat2 * rad, p0 = p.lat0 * rad;
    var n = (Math.log(m(p1)) - Math.log(m(p2))) / (Math.log(t(p1)) - Math.log(t(p2)));
    var FF = m(p1) / (n * Math.pow(t(p1), n));
    var r0 = a * FF * Math.pow(t(p0), n);
    function fwd(lon, lat) {
      var r = a * FF * Math.pow(t(lat * rad), n), th = n * (lon - p.lon0) * rad;
      return [p.x0 + r * Math.sin(th), p.y0 + r0 - r * Math.cos(th)];
    }
    function inv(x, y) {
      var dx = x - p.x0, dy = r0 - (y - p.y0);
      var r = Math.sqrt(dx * dx + dy * dy), tt = Math.pow(r / (a * FF), 1 / n);
      var lon = Math.atan2(dx, dy) / n / rad + p.lon0;
      var phi = Math.PI / 2 - 2 * Math.atan(tt);
      for (var i = 0; i < 12; i++) {
        var s = Math.sin(phi);
        phi = Math.PI / 2 - 2 * Math.atan(tt * Math.pow((1 - e * s) / (1 + e * s), e / 2));
      }
      return [lon, phi / rad];
    }
    return { fwd: fwd, inv: inv };
  })(data.proj);
  function toUnits(xy) { return [(xy[0] - F.x0) / F.unit, (F.y1 - xy[1]) / F.unit]; }
  function toMetres(u, v) { return [F.x0 + u * F.unit, F.y1 - v * F.unit]; }

  /* ------------------------------------------------------------------------ view */
  function size() {
    var r = svg.getBoundingClientRect();
    return { w: Math.max(r.width, 1), h: Math.max(r.height, 1) };
  }
  function fitAspect() {
    var s = size(), aspect = s.w / s.h;
    if (view.w / view.h > aspect) {
      var nh = view.w / aspect; view.y -= (nh - view.h) / 2; view.h = nh;
    } else {
      var nw = view.h * aspect; view.x -= (nw - view.w) / 2; view.w = nw;
    }
  }
  function unitsPerPx() { return view.w / size().w; }
  function apply() {
    svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].map(function (v) {
      return v.toFixed(2);
    }).join(" "));
    rescale();
    scalebar();
    if (tilesOn) { drawTiles(); }
    placePopup();
  }
  function home() {
    view = { x: 0, y: 0, w: F.w, h: F.h };
    fitAspect();
    apply();
  }
  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }
  function zoomAt(factor, px, py) {
    var s = size();
    var ux = view.x + (px / s.w) * view.w, uy = view.y + (py / s.h) * view.h;
    var nw = clamp(view.w / factor, MIN_W, MAX_W), k = nw / view.w;
    view.x = ux - (ux - view.x) * k;
    view.y = uy - (uy - view.y) * k;
    view.w = nw;
    view.h *= k;
    apply();
  }
  function centreOn(u, v, w) {
    var nw = Math.min(view.w, w), k = nw / view.w;
    view.w = nw; view.h *= k;
    view.x = u - view.w / 2; view.y = v - view.h / 2;
    apply();
  }
  function rescale() {
    var k = unitsPerPx();
    var marks = svg.querySelectorAll("#layer-sites .mk");
    for (var i = 0; i < marks.length; i++) { marks[i].setAttribute("transform", "scale(" + k + ")"); }
    var labels = svg.querySelectorAll("#layer-labels text");
    for (var j = 0; j < labels.length; j++) {
      var el = labels[j];
      el.setAttribute("font-size", (14 * k).toFixed(2));
      el.setAttribute("stroke-width", (3 * k).toFixed(2));
      el.setAttribute("x", (+el.getAttribute("data-u") + (+el.getAttribute("data-dx")) * k).toFixed(1));
      el.setAttribute("y", (+el.getAttribute("data-v") - 14 * k).toFixed(1));
    }
  }
  function scalebar() {
    var mpp = unitsPerPx() * F.unit, target = mpp * 120;
    var pow = Math.pow(10, Math.floor(Math.log(target) / Math.LN10)), len = pow;
    [1, 2, 5, 10].forEach(function (m) { if (m * pow <= target) { len = m * pow; } });
    document.getElementById("scalebar-bar").style.width = (len / mpp).toFixed(0) + "px";
    document.getElementById("scalebar-label").textContent =
      len >= 1000 ? (len / 1000) + " km" : len + " m";
  }

  /* -------------------------------------------------------------- pan and zoom */
  var drag = null;
  svg.addEventListener("wheel", function (e) {
    e.preventDefault();
    var r = svg.getBoundingClientRect();
    var dy = e.deltaMode === 1 ? e.deltaY * 30 : e.deltaY;
    zoomAt(Math.pow(1.0018, -dy), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  svg.addEventListener("pointerdown", function (e) {
    drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y, moved: false, id: e.pointerId };
  });
  svg.addEventListener("pointermove", function (e) {
    if (!drag) { return; }
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) > 4) {
      drag.moved = true;
      svg.classList.add("dragging");
      try { svg.setPointerCapture(drag.id); } catch (err) { /* pointer already gone */ }
    }
    if (drag.moved) {
      var k = unitsPerPx();
      view.x = drag.vx - dx * k;
      view.y = drag.vy - dy * k;
      apply();
    }
  });
  function endDrag(e) {
    if (!drag) { return; }
    var moved = drag.moved;
    drag = null;
    svg.classList.remove("dragging");
    if (!moved && e.type === "pointerup") {
      var site = e.target.closest ? e.target.closest(".site") : null;
      if (site) { showSite(+site.getAttribute("data-i"), false); }
    }
  }
  svg.addEventListener("pointerup", endDrag);
  svg.addEventListener("pointercancel", endDrag);
  svg.addEventListener("dblclick", function (e) {
    var r = svg.getBoundingClientRect();
    zoomAt(e.shiftKey ? 0.5 : 2, e.clientX - r.left, e.clientY - r.top);
  });
  document.getElementById("zoom-in").addEventListener("click", function () {
    var s = size(); zoomAt(1.6, s.w / 2, s.h / 2);
  });
  document.getElementById("zoom-out").addEventListener("click", function () {
    var s = size(); zoomAt(1 / 1.6, s.w / 2, s.h / 2);
  });
  document.getElementById("zoom-reset").addEventListener("click", home);
  document.addEventListener("keydown", function (e) {
    var tag = (e.target && e.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA") { return; }
    var s = size(), step = 80 * unitsPerPx();
    if (e.key === "+" || e.key === "=") { zoomAt(1.6, s.w / 2, s.h / 2); }
    else if (e.key === "-" || e.key === "_") { zoomAt(1 / 1.6, s.w / 2, s.h / 2); }
    else if (e.key === "ArrowLeft") { view.x -= step; apply(); }
    else if (e.key === "ArrowRight") { view.x += step; apply(); }
    else if (e.key === "ArrowUp") { view.y -= step; apply(); }
    else if (e.key === "ArrowDown") { view.y += step; apply(); }
    else if (e.key === "Escape") { hidePopup(); }
    else if ((e.key === "Enter" || e.key === " ") && e.target.classList &&
             e.target.classList.contains("site")) {
      e.preventDefault();
      showSite(+e.target.getAttribute("data-i"), false);
    }
  });
  window.addEventListener("resize", function () {
    var cu = view.x + view.w / 2, cv = view.y + view.h / 2;
    fitAspect();
    view.x = cu - view.w / 2; view.y = cv - view.h / 2;
    apply();
  });

  /* -------------------------------------------------------------------- layers */
  var boxes = document.querySelectorAll("input[data-layer]");
  function syncLayer(box) {
    var g = document.getElementById("layer-" + box.getAttribute("data-layer"));
    if (g) { g.classList.toggle("hidden", !box.checked); }
  }
  for (var b = 0; b < boxes.length; b++) {
    syncLayer(boxes[b]);
    boxes[b].addEventListener("change", function (e) { syncLayer(e.target); });
  }

  /* -------------------------------------------------------------------- popups */
  var current = null;
  function row(table, label, value) {
    var tr = document.createElement("tr");
    var a = document.createElement("td"), b = document.createElement("td");
    a.textContent = label; b.textContent = value;
    tr.appendChild(a); tr.appendChild(b); table.appendChild(tr);
  }
  function fill(box, s, closable) {
    box.textContent = "";
    if (closable) {
      var x = document.createElement("button");
      x.className = "close"; x.type = "button"; x.textContent = "\u00d7";
      x.setAttribute("aria-label", "Close");
      x.addEventListener("click", hidePopup);
      box.appendChild(x);
    }
    var h = document.createElement("h3");
    h.textContent = (s.rank === null ? "Existing site" : "Site " + s.rank) + ": " + s.town;
    box.appendChild(h);
    var t = document.createElement("table");
    row(t, "Site", s.id);
    row(t, "Region", s.region);
    row(t, data.served, s.covered + " (" + s.share + " of all)");
    if (s.rank !== null) { row(t, "Loss if dropped", s.marginal); }
    row(t, "Latitude, longitude", s.lat.toFixed(5) + ", " + s.lon.toFixed(5));
    s.nearby.forEach(function (n) {
      row(t, "Nearest " + n[0], n[1] ? n[1] + " (" + n[2] + ")" : "none in the data");
    });
    (s.transit || []).forEach(function (n) { row(t, n[0], n[1]); });
    box.appendChild(t);
  }
  function showSite(i, zoom) {
    var s = data.sites[i];
    if (!s) { return; }
    current = i;
    fill(popup, s, true);
    fill(info, s, false);
    info.hidden = false;
    popup.hidden = false;
    if (zoom) { centreOn(s.u, s.v, (data.radius_m * 4) / F.unit); } else { placePopup(); }
  }
  function hidePopup() { popup.hidden = true; current = null; }
  function placePopup() {
    if (current === null || popup.hidden) { return; }
    var s = data.sites[current], sz = size();
    var px = ((s.u - view.x) / view.w) * sz.w, py = ((s.v - view.y) / view.h) * sz.h;
    var pw = popup.offsetWidth, ph = popup.offsetHeight;
    var left = px + 18, top = py - ph / 2;
    if (left + pw > sz.w - 8) { left = px - pw - 18; }
    popup.style.left = clamp(left, 8, Math.max(8, sz.w - pw - 8)) + "px";
    popup.style.top = clamp(top, 8, Math.max(8, sz.h - ph - 8)) + "px";
  }
  var buttons = document.querySelectorAll(".site-btn");
  for (var q = 0; q < buttons.length; q++) {
    buttons[q].addEventListener("click", function (e) {
      showSite(+e.currentTarget.getAttribute("data-i"), true);
    });
  }

  /* -------------------------------------------------- optional OpenStreetMap tiles */
  var tileLayer = document.getElementById("layer-tiles");
  function tileLon(x, z) { return (x / Math.pow(2, z)) * 360 - 180; }
  function tileLat(y, z) {
    var n = Math.PI * (1 - (2 * y) / Math.pow(2, z));
    return (Math.atan(Math.sinh(n)) * 180) / Math.PI;
  }
  function lonTile(lon, z) { return Math.floor(((lon + 180) / 360) * Math.pow(2, z)); }
  function latTile(lat, z) {
    var r = (lat * Math.PI) / 180;
    return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * Math.pow(2, z));
  }
  function drawTiles() {
    while (tileLayer.firstChild) { tileLayer.removeChild(tileLayer.firstChild); }
    var corners = [[view.x, view.y], [view.x + view.w, view.y], [view.x, view.y + view.h],
      [view.x + view.w, view.y + view.h], [view.x + view.w / 2, view.y],
      [view.x + view.w / 2, view.y + view.h]].map(function (c) {
      var m = toMetres(c[0], c[1]);
      return proj.inv(m[0], m[1]);
    });
    var lons = corners.map(function (c) { return c[0]; });
    var lats = corners.map(function (c) { return c[1]; });
    var w = Math.min.apply(null, lons), e = Math.max.apply(null, lons);
    var s = Math.max(Math.min.apply(null, lats), -85), n = Math.min(Math.max.apply(null, lats), 85);
    var mpp = unitsPerPx() * F.unit, mid = ((s + n) / 2) * Math.PI / 180;
    var z = clamp(Math.round(Math.log((40075016.686 * Math.cos(mid)) / (256 * mpp)) / Math.LN2), 3, 18);
    var x0, x1, y0, y1;
    for (;;) {
      x0 = lonTile(w, z); x1 = lonTile(e, z); y0 = latTile(n, z); y1 = latTile(s, z);
      if ((x1 - x0 + 1) * (y1 - y0 + 1) <= 80 || z <= 3) { break; }
      z -= 1;
    }
    for (var tx = x0; tx <= x1; tx++) {
      for (var ty = y0; ty <= y1; ty++) {
        var tl = toUnits(proj.fwd(tileLon(tx, z), tileLat(ty, z)));
        var tr = toUnits(proj.fwd(tileLon(tx + 1, z), tileLat(ty, z)));
        var bl = toUnits(proj.fwd(tileLon(tx, z), tileLat(ty + 1, z)));
        var img = document.createElementNS(SVGNS, "image");
        img.setAttribute("href", data.tiles.replace("{z}", z).replace("{x}", tx).replace("{y}", ty));
        img.setAttribute("width", "1");
        img.setAttribute("height", "1");
        img.setAttribute("preserveAspectRatio", "none");
        img.setAttribute("transform", "matrix(" + [tr[0] - tl[0], tr[1] - tl[1], bl[0] - tl[0],
          bl[1] - tl[1], tl[0], tl[1]].map(function (v) { return v.toFixed(3); }).join(" ") + ")");
        tileLayer.appendChild(img);
      }
    }
  }
  document.getElementById("tiles-toggle").addEventListener("change", function (e) {
    tilesOn = e.target.checked;
    svg.classList.toggle("tiles-on", tilesOn);
    document.getElementById("attribution").hidden = !tilesOn;
    if (tilesOn) { drawTiles(); } else { while (tileLayer.firstChild) { tileLayer.removeChild(tileLayer.firstChild); } }
  });

  /* ----------------------------------------------------------------------- start */
  home();
  var drawn = 0, markers = svg.querySelectorAll("#layer-sites .site");
  for (var d = 0; d < markers.length; d++) {
    var box = markers[d].getBoundingClientRect();
    if (box.width > 0 && box.height > 0) { drawn += 1; }
  }
  var wanted = /^#site=(\d+)$/.exec(location.hash);  /* e.g. map.html#site=2 opens site 2 */
  if (wanted) {
    data.sites.forEach(function (s, i) { if (s.rank === +wanted[1]) { showSite(i, true); } });
  }
  if (location.hash === "#selftest") {
    var pts = [[-72.75, 40.833333333333336], [-72.690472, 41.772897], [-73.5, 41.0], [-71.8, 42.05]];
    document.body.setAttribute("data-selftest", JSON.stringify(pts.map(function (p) {
      var xy = proj.fwd(p[0], p[1]);
      return { fwd: xy, inv: proj.inv(xy[0], xy[1]) };
    })));
  }
  document.body.setAttribute("data-sites", String(drawn));
  document.body.setAttribute("data-errors", String(window.__siteoptErrors.length));
  document.body.setAttribute("data-ready", "1");
})();
