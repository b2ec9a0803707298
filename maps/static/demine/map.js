/* demine map glue: the symbology of maps/style.py (window.DEMINE_SYMBOLOGY, written into
   each page), popups with a link to the record, embedded (GeoJSON) and tiled (vector
   tile) layers drawn alike, and the controls every map carries. Served by the product
   (/static/demine/map.js) or inlined into an exported file; it loads nothing itself. */
(function () {
  "use strict";

  // Leaflet 1.8 dropped fakeStop, which VectorGrid's canvas renderer still calls
  if (!L.DomEvent.fakeStop) { L.DomEvent.fakeStop = function () { return true; }; }

  var ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"};

  function esc(value) {
    return String(value).replace(/[&<>"']/g, function (c) { return ENTITIES[c]; });
  }

  function sym(kind) {
    return (window.DEMINE_SYMBOLOGY || {})[kind] || {};
  }

  function fmt(value) {
    if (typeof value === "number") {
      return value.toLocaleString("en", {maximumFractionDigits: 1});
    }
    return value;
  }

  // path options: the kind's base, then one entry per field it is styled by
  function style(kind, props) {
    var rule = sym(kind), out = Object.assign({}, rule.base || {}), by = rule.by || {};
    props = props || {};
    Object.keys(by).forEach(function (field) {
      var table = by[field], value = props[field];
      Object.assign(out, (value !== undefined && value !== null && table[value]) ||
                    table["*"] || {});
    });
    return out;
  }

  // the record's page: the kind's link template with {property} placeholders filled
  // (no link when one of them is missing)
  function link(kind, props) {
    var template = sym(kind).link, missing = false;
    // an exported file with no server to link to: no link rather than a broken one
    if (!template || (location.protocol === "file:" && !window.DEMINE_LINK_BASE)) {
      return "";
    }
    var path = template.replace(/\{(\w+)\}/g, function (_, name) {
      var value = props[name];
      if (value === undefined || value === null || value === "") { missing = true; }
      return encodeURIComponent(value);
    });
    if (missing) { return ""; }
    var href = (window.DEMINE_LINK_BASE || "") + path;
    return "<a class=\"demine-record\" href=\"" + esc(href) + "\">Open the record</a>";
  }

  function popup(kind, props) {
    var rule = sym(kind), rows = "";
    (rule.fields || []).forEach(function (pair) {
      var value = props[pair[0]];
      if (value === undefined || value === null || value === "") { return; }
      rows += "<tr><th>" + esc(pair[1]) + "</th><td>" + esc(fmt(value)) + "</td></tr>";
    });
    return "<div class=\"demine-popup\" data-kind=\"" + esc(kind) + "\"><b>" +
      esc(rule.title || kind) + "</b><table>" + rows + "</table>" + link(kind, props) +
      "</div>";
  }

  // when each kind of layer had drawn what is in view (ms since navigation start): the
  // benchmarks and tests wait on it
  window.demineDrawn = window.demineDrawn || {};
  var waiting = {};
  function drawn(kind) {
    if (kind in window.demineDrawn) { return; }
    window.demineDrawn[kind] = performance.now();
    (waiting[kind] || []).forEach(function (fn) { fn(); });
    delete waiting[kind];
  }
  function whenDrawn(kind, fn) {
    if (kind in window.demineDrawn) { fn(); } else { (waiting[kind] = waiting[kind] || []).push(fn); }
  }

  function withId(feature) {
    var props = Object.assign({}, feature.properties || {});
    if (props.id === undefined && feature.id !== undefined) { props.id = feature.id; }
    return props;
  }

  function clusterIcon(kind) {
    var field = sym(kind).cluster_by;
    return function (cluster) {
      var counts = {}, best = null;
      cluster.getAllChildMarkers().forEach(function (m) {
        var value = (m.demineProps || {})[field];
        counts[value] = (counts[value] || 0) + 1;
        if (best === null || counts[value] > counts[best]) { best = value; }
      });
      var colour = style(kind, (function () { var p = {}; p[field] = best; return p; })())
        .fillColor || "#555";
      var n = cluster.getChildCount();
      return L.divIcon({
        className: "demine-cluster",
        html: "<div style=\"background:" + esc(colour) + "\">" + n + "</div>",
        iconSize: L.point(34, 34)
      });
    };
  }

  // an embedded layer: GeoJSON drawn with the kind's style, a popup on click, a tooltip
  // on hover when asked, points as circles (clustered when asked)
  function geojson(kind, data, opts) {
    opts = opts || {};
    var rule = sym(kind);
    var layer = L.geoJSON(data, {
      style: function (f) { return style(kind, f.properties); },
      pointToLayer: function (f, latlng) {
        if (rule.label) {  // a place name: text on the map, nothing to click
          return L.marker(latlng, {interactive: false, keyboard: false, icon: L.divIcon({
            className: "demine-label demine-label-" + esc((f.properties || {}).level || 0),
            html: "<span>" + esc((f.properties || {})[rule.label] || "") + "</span>",
            iconSize: null})});
        }
        return L.circleMarker(latlng, Object.assign({radius: rule.radius || 6},
                                                    style(kind, f.properties)));
      },
      onEachFeature: function (f, l) {
        if (rule.label) { return; }
        var props = withId(f);
        l.demineProps = props;
        l.bindPopup(function () { return popup(kind, props); });
      }
    });
    if (opts.hover) {  // areas that answer the pointer anywhere inside, not on their edge
      hoverAreas.push({kind: kind, layer: layer, features: (data.features || [])});
    }
    if (opts.cluster && L.markerClusterGroup) {
      var group = L.markerClusterGroup({iconCreateFunction: clusterIcon(kind),
                                        showCoverageOnHover: false, chunkedLoading: true});
      group.addLayers(layer.getLayers());
      layer = group;
    }
    layer.on("add", function () { drawn(kind); });
    return layer;
  }

  // a tiled layer: /tiles/{layer}/{z}/{x}/{y}.mvt drawn with the same style, same popups
  // `opts.after`: a kind whose layer loads first (this one joins `map` once it has drawn:
  // the browser and the server work on the main layer's tiles before the others')
  function tiles(kind, url, opts, map) {
    opts = opts || {};
    var rule = sym(kind), styles = {capped: []};  // tiles.md: "capped" marks a full tile
    styles[opts.vectorLayer || kind] = function (props) {
      var s = style(kind, props);
      if (s.fillColor && s.fill === undefined) { s.fill = true; }
      if (s.radius === undefined) { s.radius = rule.radius || 5; }
      return s;
    };
    // 512-pixel tiles: a tile of zoom z - 1 drawn over the 2 x 2 places of four 256-pixel
    // ones (the server simplifies to 1 pixel at 512): a quarter of the requests (the
    // browser opens at most 6 connections to the server at a time) and of the features
    // to decode and draw in a dense area, where every tile holds its feature cap
    var size = opts.tileSize || 512, offset = -Math.round(Math.log(size / 256) / Math.LN2);
    var options = {
      vectorTileLayerStyles: styles,
      interactive: true,
      rendererFactory: L.canvas.tile,  // thousands of features a tile: no DOM node each
      tileSize: size,
      maxNativeZoom: (opts.maxNativeZoom || 16) - offset,
      maxZoom: 20,
      minZoom: opts.minZoom || 0,
      getFeatureId: function (f) { return f.properties.id; },
      fetchOptions: {credentials: "same-origin"}
    };
    if (opts.bounds) {  // [minx, miny, maxx, maxy]: no request for a tile outside
      options.bounds = L.latLngBounds([opts.bounds[1], opts.bounds[0]],
                                      [opts.bounds[3], opts.bounds[2]]);
    }
    var layer = L.vectorGrid.protobuf(url, options);
    if (offset) {  // VectorGrid has no zoomOffset: ask for the tile one zoom up
      var fetchTile = layer._getVectorTilePromise;
      layer._getVectorTilePromise = function (coords, tileBounds) {
        var at = L.point(coords.x, coords.y);
        at.z = coords.z + offset;
        return fetchTile.call(this, at, tileBounds);
      };
    }
    layer.on("load", function () { drawn(kind); });
    layer.on("click", function (e) {
      var props = (e.layer && e.layer.properties) || {};
      L.popup().setLatLng(e.latlng).setContent(popup(kind, props)).openOn(layer._map);
    });
    if (opts.hover) {
      var tip = L.tooltip({sticky: true});
      layer.on("mouseover", function (e) {
        tip.setLatLng(e.latlng).setContent(popup(kind, (e.layer && e.layer.properties) || {}));
        layer._map.openTooltip(tip);
      });
      layer.on("mouseout", function () { layer._map.closeTooltip(tip); });
    }
    if (opts.after && map) {
      whenDrawn(opts.after, function () { if (!map.hasLayer(layer)) { map.addLayer(layer); } });
    }
    return layer;
  }

  // --- what lies under the pointer: the embedded `hover` layers (admin areas and their
  // remaining contamination), found by point in polygon, shown in a box of their own ---
  var hoverAreas = [];

  function inRing(x, y, ring) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) {
        inside = !inside;
      }
    }
    return inside;
  }

  function contains(geometry, x, y) {
    if (!geometry) { return false; }
    var polygons = geometry.type === "Polygon" ? [geometry.coordinates] :
      geometry.type === "MultiPolygon" ? geometry.coordinates : [];
    return polygons.some(function (rings) {
      var inside = false;  // even-odd over the rings: a hole takes the point out again
      rings.forEach(function (ring) { if (inRing(x, y, ring)) { inside = !inside; } });
      return inside;
    });
  }

  function underPointer(map, latlng) {
    var found = [];
    hoverAreas.forEach(function (entry) {
      if (!map.hasLayer(entry.layer)) { return; }
      entry.features.forEach(function (f) {
        if (contains(f.geometry, latlng.lng, latlng.lat)) { found.push([entry.kind, withId(f)]); }
      });
    });
    return found;
  }

  var HoverControl = L.Control.extend({
    options: {position: "bottomleft"},
    onAdd: function (map) {
      var div = L.DomUtil.create("div", "demine-hover");
      div.style.display = "none";
      var last = 0;
      map.on("mousemove", function (e) {
        var now = Date.now();
        if (now - last < 80) { return; }
        last = now;
        var found = underPointer(map, e.latlng);
        div.style.display = found.length ? "" : "none";
        div.innerHTML = found.map(function (pair) { return popup(pair[0], pair[1]); }).join("");
      });
      map.on("mouseout", function () { div.style.display = "none"; });
      return div;
    }
  });

  function lonlat(lng, lat) {
    var mgrsText = "";
    try {
      mgrsText = window.mgrs ? window.mgrs.forward([lng, lat], 5) : "";
    } catch (err) {
      mgrsText = "n/a";
    }
    return lat.toFixed(5) + ", " + lng.toFixed(5) + (mgrsText ? " · MGRS " + mgrsText : "");
  }

  function searchControl(map, opts) {
    if (!L.Control.Search || !(opts.searchIndex || opts.searchUrl)) { return; }
    var found = {};
    var control = new L.Control.Search({
      position: "topleft",
      propertyName: "local_id",
      propertyLoc: ["lat", "lon"],
      initial: false,
      marker: false,
      autoType: false,
      tooltipLimit: 20,
      textPlaceholder: "Local id…",
      textErr: "No such local id",
      sourceData: function (text, respond) {
        var needle = text.toLowerCase();
        var done = function (rows) {
          rows.forEach(function (r) { found[r.local_id] = r; });
          respond(rows);
        };
        if (opts.searchIndex) {
          done(opts.searchIndex.filter(function (r) {
            return String(r.local_id).toLowerCase().indexOf(needle) >= 0;
          }).slice(0, 20));
          return {abort: function () {}};
        }
        var ctrl = window.AbortController ? new AbortController() : null;
        fetch(opts.searchUrl + "?q=" + encodeURIComponent(text),
              {credentials: "same-origin", signal: ctrl ? ctrl.signal : undefined})
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(done)
          .catch(function () { respond([]); });
        return {abort: function () { if (ctrl) { ctrl.abort(); } }};
      },
      moveToLocation: function (latlng, title, m) {
        var r = found[title];
        if (r && r.bbox) {
          m.fitBounds([[r.bbox[1], r.bbox[0]], [r.bbox[3], r.bbox[2]]], {maxZoom: 17});
        } else {
          m.setView(latlng, 16);
        }
        if (r) {
          L.popup().setLatLng(latlng).setContent(popup(r.kind || "hazard_areas", r)).openOn(m);
        }
      }
    });
    map.addControl(control);
  }

  var PrintControl = L.Control.extend({
    options: {position: "topleft"},
    onAdd: function () {
      var bar = L.DomUtil.create("div", "leaflet-bar demine-print");
      var a = L.DomUtil.create("a", "", bar);
      a.href = "#";
      a.title = "Print the map";
      a.setAttribute("role", "button");
      a.innerHTML = "<svg width=\"16\" height=\"16\" viewBox=\"0 0 16 16\" " +
        "style=\"vertical-align:middle\"><path fill=\"#333\" d=\"M4 1h8v4H4zM1 6h14v6h-3" +
        "v3H4v-3H1zm4 4v4h6v-4z\"/></svg>";
      L.DomEvent.on(a, "click", function (e) {
        L.DomEvent.preventDefault(e);
        window.print();
      });
      L.DomEvent.disableClickPropagation(bar);
      return bar;
    }
  });

  var HtmlControl = L.Control.extend({
    onAdd: function () {
      var div = L.DomUtil.create("div", this.options.className || "");
      div.innerHTML = this.options.html;
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    }
  });

  // the controls of every map (maps/common.py decorate)
  function decorate(map, opts) {
    opts = opts || {};
    L.control.scale({imperial: false, position: "bottomleft"}).addTo(map);
    if (L.control.polylineMeasure) {  // distances and bearings (turning points)
      L.control.polylineMeasure({position: "topleft", unit: "metres", showBearings: true,
                                 clearMeasurementsOnStop: false, showClearControl: true,
                                 measureControlTitleOn: "Measure distances and bearings",
                                 measureControlTitleOff: "Stop measuring"}).addTo(map);
    }
    if (L.Control.FullScreen) {
      new L.Control.FullScreen({position: "topleft", title: "Full screen",
                                titleCancel: "Leave full screen"}).addTo(map);
    }
    if (L.control.mousePosition) {
      L.control.mousePosition({position: "bottomleft", emptyString: "lat, lon · MGRS",
                               formatter: lonlat}).addTo(map);
    }
    searchControl(map, opts);
    if (hoverAreas.length) { new HoverControl().addTo(map); }
    new PrintControl().addTo(map);
    if (opts.legend) {
      new HtmlControl({position: "bottomright", html: opts.legend}).addTo(map);
    }
    if (opts.summary) {
      new HtmlControl({position: "topright", html: opts.summary,
                       className: "demine-summary"}).addTo(map);
    }
    // the smallest areas' names only when zoomed in far enough to read them
    var far = function () {
      L.DomUtil[map.getZoom() < 9 ? "addClass" : "removeClass"](map.getContainer(),
                                                               "demine-far");
    };
    map.on("zoomend", far);
    far();
    map.demineReady = true;
    window.demineMap = map;
  }

  window.demine = {esc: esc, style: style, popup: popup, geojson: geojson, tiles: tiles,
                   decorate: decorate, lonlat: lonlat};
})();
