"""What every map of the product shares: Leaflet and its plugins from the product itself
(never a CDN), served under /static or inlined into an exported file; the controls every
map carries (`decorate`); layers drawn from embedded GeoJSON or from the vector tiles
with one symbology (maps/style.py, written into the page as data); escaped tooltips,
the extent of a collection and the legend box.

A map page is built in three steps:

    fmap = base_map()                              # no CDN, no basemap unless given
    GeoJsonLayer("hazard_areas", collection, name="Hazard areas").add_to(fmap)
    TileLayer("releases", "/tiles/releases/{z}/{x}/{y}.mvt", name="Released land").add_to(fmap)
    decorate(fmap, title="...", legend=legend_entries(), search_url="/maps/search")
    html = page_html(fmap)                         # or save(fmap, path) for a file

`decorate` goes last (the layer control lists the layers added before it).
"""

from __future__ import annotations

import base64
import json
import mimetypes
import re
from collections.abc import Iterator
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import folium
from branca.element import Element, Figure
from folium.map import FitBounds, Layer
from jinja2 import Template

from maps.style import symbology

# Leaflet is served by the product itself; folium's default CDN list is replaced
LEAFLET_JS = "vendor/leaflet/leaflet.js"
LEAFLET_CSS = "vendor/leaflet/leaflet.css"

UKRAINE_CENTRE = (49.2, 37.3)

STATIC_DIR = Path(str(resources.files("maps") / "static"))

# every script and stylesheet a map page loads, in load order, by folium's names for them
# (a folium plugin naming one of these gets the product's copy instead of its CDN URL)
SCRIPTS: list[tuple[str, str]] = [
    ("leaflet", LEAFLET_JS),
    ("mgrs", "vendor/mgrs/mgrs.min.js"),
    ("vectorGrid", "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"),
    ("markerclusterjs", "vendor/leaflet.markercluster/leaflet.markercluster.js"),
    ("polylinemeasure_js", "vendor/leaflet.polylinemeasure/Leaflet.PolylineMeasure.js"),
    ("Control.FullScreen.js", "vendor/leaflet.fullscreen/Control.FullScreen.umd.js"),
    ("Control_MousePosition_js", "vendor/leaflet-mouse-position/L.Control.MousePosition.js"),
    ("Leaflet.Search.js", "vendor/leaflet-search/dist/leaflet-search.min.js"),
    ("demine_map_js", "demine/map.js"),
]
STYLESHEETS: list[tuple[str, str]] = [
    ("leaflet_css", LEAFLET_CSS),
    ("markerclustercss", "vendor/leaflet.markercluster/MarkerCluster.css"),
    ("markerclusterdefaultcss", "vendor/leaflet.markercluster/MarkerCluster.Default.css"),
    ("polylinemeasure_css", "vendor/leaflet.polylinemeasure/Leaflet.PolylineMeasure.css"),
    ("Control.FullScreen.css", "vendor/leaflet.fullscreen/Control.FullScreen.css"),
    ("Control_MousePosition_css", "vendor/leaflet-mouse-position/L.Control.MousePosition.css"),
    ("Leaflet.Search.css", "vendor/leaflet-search/dist/leaflet-search.min.css"),
    ("demine_map_css", "demine/map.css"),
]
_LOCAL = dict(SCRIPTS + STYLESHEETS)

AssetMode = Literal["served", "inline"]
_INLINE = "demine-inline:"  # a placeholder base URL, replaced by the files' contents


def offline(fmap: folium.Map, static_url: str) -> None:
    """Load Leaflet from the product's own static files instead of folium's CDN list."""
    fmap.default_js = [("leaflet", f"{static_url}/{LEAFLET_JS}")]
    fmap.default_css = [("leaflet_css", f"{static_url}/{LEAFLET_CSS}")]


def base_map(*, location: tuple[float, float] = UKRAINE_CENTRE, zoom_start: int = 10,
             height: str = "100%", basemap_url: str | None = None,
             basemap_attribution: str = "basemap", max_native_zoom: int = 18,
             fit: tuple[float, float, float, float] | None = None) -> folium.Map:
    """An empty map with no CDN asset and no background unless `basemap_url` (an XYZ
    template, e.g. the product's own /basemap/{z}/{x}/{y}.png) is given. `fit`
    (minx, miny, maxx, maxy) frames it before any layer is added, so that tiled layers
    fetch only the tiles of the view they open on."""
    fmap = folium.Map(location=location, zoom_start=zoom_start, tiles=None,
                      control_scale=False, prefer_canvas=False, height=height)
    fmap.options["maxZoom"] = 20  # marker clusters need it; tiles overzoom beyond 16
    # set, or Leaflet takes the largest minZoom of its tile layers as the map's own, and a
    # layer shown only from zoom 12 would hold the whole map at 12
    fmap.options["minZoom"] = 2
    fmap.default_js = []
    fmap.default_css = []
    if fit is not None:
        _fit(fmap, fit)
    if basemap_url:
        folium.TileLayer(basemap_url, attr=basemap_attribution, name="Basemap",
                         max_native_zoom=max_native_zoom, max_zoom=20).add_to(fmap)
    return fmap


def _fit(fmap: folium.Map, box: tuple[float, float, float, float]) -> None:
    """Frames `fmap` on `box` (minx, miny, maxx, maxy) at once: an animated zoom from the
    initial view would let the tile layers added meanwhile fetch the tiles of the zoom
    being left as well as those of the zoom arrived at."""
    minx, miny, maxx, maxy = box
    framing = FitBounds([[miny, minx], [maxy, maxx]])
    framing.options["animate"] = False
    fmap.add_child(framing)


class GeoJsonLayer(Layer):  # type: ignore[misc]
    """A layer embedded in the page: `collection` (GeoJSON) drawn with the symbology of
    `kind` (a key of maps/style.py SYMBOLOGY), a popup on click with the key fields and a
    link to the record; `hover` adds the popup as a tooltip, `cluster` clusters points."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = demine.geojson({{ this.kind|tojson }},
            {{ this.data|tojson }}, {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, kind: str, collection: dict[str, Any], *, name: str,
                 hover: bool = False, cluster: bool = False, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "DemineGeoJson"
        self.kind = kind
        self.data = collection
        self.options = {"hover": hover, "cluster": cluster}


class TileLayer(Layer):  # type: ignore[misc]
    """A layer drawn from the vector tiles at `url` (`.../{z}/{x}/{y}.mvt`) with the same
    symbology and popups as GeoJsonLayer; `vector_layer` is the layer's name inside the
    tiles (defaults to `kind`); `hover` shows the popup's fields as a tooltip; `after`
    names a kind whose layer should draw first (this one then joins the map); `bounds`
    (minx, miny, maxx, maxy) is where its data lies: no tile outside is requested.
    `tile_size` 512 draws a tile of zoom z - 1 over four 256-pixel places where Leaflet is
    at z: a quarter of the requests, but also a quarter of the features at most (the
    server caps features per tile), so about half as many drawn in a dense view."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = demine.tiles({{ this.kind|tojson }},
            {{ this.url|tojson }}, {{ this.options|tojson }}, {{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, kind: str, url: str, *, name: str, vector_layer: str | None = None,
                 min_zoom: int = 0, max_native_zoom: int = 16, hover: bool = False,
                 show: bool = True, after: str | None = None,
                 bounds: tuple[float, float, float, float] | None = None,
                 tile_size: int = 512) -> None:
        # a layer `after` another joins the map (in JS) once that one has drawn
        super().__init__(name=name, overlay=True, control=True, show=show and not after)
        self._name = "DemineTiles"
        self.kind = kind
        self.url = url
        self.options = {"vectorLayer": vector_layer or kind, "minZoom": min_zoom,
                        "maxNativeZoom": max_native_zoom, "hover": hover,
                        "after": after if show else None,
                        "bounds": list(bounds) if bounds else None, "tileSize": tile_size}


class _Controls(folium.MacroElement):  # type: ignore[misc]
    _template = Template("""
        {% macro script(this, kwargs) %}
        demine.decorate({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__()
        self._name = "DemineControls"
        self.options = options


def decorate(fmap: folium.Map, *, title: str,
             legend: list[tuple[str, dict[str, Any]]] | None = None,
             summary: list[str] | None = None,
             search_index: list[dict[str, Any]] | None = None,
             search_url: str | None = None,
             static_url: str = "/static", assets: AssetMode = "served",
             link_base: str = "", fit: tuple[float, float, float, float] | None = None,
             ) -> folium.Map:
    """Adds to `fmap` what every map carries: layer control, legend (`legend` entries,
    label and swatch style, from maps/style.py), scale bar, measure tool, pointer
    position in lat/lon and MGRS, fullscreen, search by local id, a print button
    (@media print hides the controls), the page's title, and a summary box (`summary`:
    lines of plain text saying what the map shows).

    Search looks in `search_index` (rows with local_id, lat, lon and optionally id,
    bbox [minx, miny, maxx, maxy], kind: embedded, for exported files) or asks
    `search_url` (`?q=` → the same rows as JSON). `assets` "served" loads every script
    and stylesheet from `static_url`; "inline" puts their contents into the page
    (page_html/save), for a file that opens with no server and no network. `link_base`
    is put before record links (a server URL in an exported file). `fit` frames the map
    on (minx, miny, maxx, maxy) (base_map's `fit` does it before the layers load, which
    tiled layers want). Call it last: the layer control lists the layers added
    before it. Returns `fmap`.
    """
    base = _INLINE if assets == "inline" else static_url.rstrip("/")
    fmap.default_js = [(name, f"{base}/{path}") for name, path in SCRIPTS]
    fmap.default_css = [(name, f"{base}/{path}") for name, path in STYLESHEETS]
    setattr(fmap, "_demine_assets", (assets, static_url.rstrip("/")))  # noqa: B010
    root = fmap.get_root()
    assert isinstance(root, Figure)
    favicon = "data:," if assets == "inline" else f"{static_url.rstrip('/')}/favicon.png"
    # the symbology of the kinds this page draws (and searches), no more: a page must not
    # name the fields of records its reader may not see
    kinds = {element.kind for element in _elements(fmap)
             if isinstance(element, GeoJsonLayer | TileLayer)}
    if search_url or search_index:
        kinds.add("hazard-areas")
    page_symbology = {kind: rule for kind, rule in symbology().items() if kind in kinds}
    root.header.add_child(Element(
        f'<title>{escape(title)} — demine</title><link rel="icon" href="{escape(favicon)}">'
        f"<script>window.DEMINE_SYMBOLOGY = {_script_json(page_symbology)};"
        f"window.DEMINE_LINK_BASE = {_script_json(link_base)};</script>"), name="demine_head")
    if fit is not None:
        _fit(fmap, fit)
    folium.LayerControl(collapsed=True, position="topright").add_to(fmap)
    options: dict[str, Any] = {"searchIndex": search_index, "searchUrl": search_url}
    if legend:
        options["legend"] = ('<details class="demine-legend-box" open><summary>Legend'
                             f"</summary>{legend_html(legend)}</details>")
    if summary:
        options["summary"] = (f"<h1>{escape(title)}</h1><ul>"
                              + "".join(f"<li>{escape(line)}</li>" for line in summary)
                              + "</ul>")
    fmap.add_child(_Controls(options))
    return fmap


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    return (json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026"))


def _elements(element: Any) -> Iterator[Any]:
    yield element
    for child in list(getattr(element, "_children", {}).values()):
        yield from _elements(child)


def page_html(fmap: folium.Map) -> str:
    """The page of a decorated map: every asset from the product (served) or inlined.
    A folium element asking for a script or stylesheet the product does not carry
    raises ValueError rather than reach for a CDN."""
    assets, static_url = getattr(fmap, "_demine_assets", ("served", "/static"))
    base = _INLINE if assets == "inline" else static_url
    for element in _elements(fmap):
        if element is fmap:
            continue
        for attr in ("default_js", "default_css"):
            links = getattr(element, attr, None)
            if not links:
                continue
            unknown = [name for name, _ in links if name not in _LOCAL]
            if unknown:
                raise ValueError(f"{type(element).__name__} asks for assets the product "
                                 f"does not carry: {unknown}")
            setattr(element, attr, [(name, f"{base}/{_LOCAL[name]}") for name, _ in links])
    html = fmap.get_root().render()
    if assets == "inline":
        html = _inline(html)
    return html


def save(fmap: folium.Map, path: str | Path) -> None:
    """Writes the page of `fmap` to `path` (decorate with assets="inline" for a file that
    opens from disk with the network off)."""
    Path(path).write_text(page_html(fmap), encoding="utf-8")


_SCRIPT_LINK = re.compile(r'<script src="' + re.escape(_INLINE) + r'/([^"]+)"></script>')
_CSS_LINK = re.compile(r'<link rel="stylesheet" href="' + re.escape(_INLINE) + r'/([^"]+)"\s*/?>')
_CSS_URL = re.compile(r"""url\((['"]?)(?!data:|#)([^'")]+)\1\)""")


def _inline(html: str) -> str:
    def script(match: re.Match[str]) -> str:
        text = (STATIC_DIR / match.group(1)).read_text(encoding="utf-8")
        text = re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)
        return f"<script>{text}</script>"

    def stylesheet(match: re.Match[str]) -> str:
        path = STATIC_DIR / match.group(1)
        text = _CSS_URL.sub(lambda m: f'url("{_data_uri(path.parent / m.group(2))}")',
                            path.read_text(encoding="utf-8"))
        text = re.sub(r"</(style)", r"<\\/\1", text, flags=re.IGNORECASE)
        return f"<style>{text}</style>"

    html = _SCRIPT_LINK.sub(script, html)
    html = _CSS_LINK.sub(stylesheet, html)
    if _INLINE in html:
        raise ValueError("an asset of the page could not be inlined")
    return html


def _data_uri(path: Path) -> str:
    path = path.resolve()
    if not path.is_relative_to(STATIC_DIR.resolve()):
        raise ValueError(f"a stylesheet refers outside the static files: {path}")
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def swatch(style: dict[str, Any], *, dot: bool = False) -> str:
    """The CSS of one legend key: a filled square (a dot for point symbols) or an outline."""
    if "fill" in style:
        shape = "border-radius:50%" if dot or style.get("dot") else "opacity:0.75"
        return f"background:{style['fill']};{shape};border:1px solid #333"
    line = "dashed" if style.get("dashed") else "solid"
    return f"background:#fff;border:2px {line} {style['outline']}"


def legend_html(entries: list[tuple[str, dict[str, Any]]], *, dot: bool = False,
                placement: str = "") -> str:
    """The legend box (id `demine-legend`) of `entries` (label, style) from maps/style.py;
    `placement` is extra CSS for where the box sits when it is not inside a control."""
    rows = "".join(
        f'<div><span style="display:inline-block;width:14px;height:12px;margin-right:6px;'
        f'{swatch(style, dot=dot)}"></span>{escape(label)}</div>'
        for label, style in entries)
    return (f'<div id="demine-legend" style="{placement}background:#fff;padding:8px 10px;'
            f'font:12px sans-serif;border:1px solid #999;border-radius:4px">{rows}</div>')


def escaped(collection: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The collection with the tooltip fields HTML-escaped: folium's tooltips write them
    as HTML, and names and local ids are free text from the field."""
    features = []
    for feature in collection["features"]:
        props = dict(feature.get("properties") or {})
        for name in fields:
            if isinstance(props.get(name), str):
                props[name] = escape(props[name])
        features.append({**feature, "properties": props})
    return {**collection, "features": features}


def bounds(collection: dict[str, Any]) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []

    def walk(coords: Any) -> None:
        if coords and isinstance(coords[0], int | float):
            xs.append(coords[0])
            ys.append(coords[1])
        else:
            for part in coords:
                walk(part)

    for feature in collection["features"]:
        walk(feature["geometry"]["coordinates"])
    return min(xs), min(ys), max(xs), max(ys)
