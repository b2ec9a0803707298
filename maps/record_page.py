"""What the maps of one record share (maps/hazard.py, maps/task.py, maps/who.py): popups
built from escaped fields with links to the records, GeoJSON layers styled from their
properties, and the page that puts a panel (a ledger, a progress table, a 3W table)
beside the map."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from html import escape
from typing import Any

import folium
from branca.element import Element, Figure
from folium.map import Layer
from jinja2 import Template

from maps.common import bounds

Style = Callable[[dict[str, Any]], dict[str, Any]]

# beside the map on a screen, under it on a narrow one; the print view keeps both
PANEL_CSS = """<style>
html,body{height:100%;margin:0}
html body{display:flex;flex-direction:row;font:13px/1.4 system-ui,sans-serif}
html body>.folium-map{order:0;flex:1 1 0;min-width:0;height:100%}
#demine-panel{order:1;flex:0 0 26rem;max-width:45vw;height:100%;overflow:auto;box-sizing:border-box;
 padding:.6rem .9rem;border-left:1px solid #bbb;background:#fff}
#demine-panel h1{font-size:1.15rem;margin:.2rem 0 .4rem}
#demine-panel h2{font-size:.95rem;margin:.9rem 0 .3rem}
#demine-panel table{border-collapse:collapse;width:100%;margin:.2rem 0;font-size:12px}
#demine-history td:first-child,#demine-releases td:nth-child(2){white-space:nowrap}
#demine-panel th,#demine-panel td{border:1px solid #ddd;padding:.15rem .35rem;
 text-align:left;vertical-align:top}
#demine-panel td.num,#demine-panel th.num{text-align:right;white-space:nowrap}
#demine-panel tr.total td{font-weight:600;border-top:2px solid #999}
#demine-panel .key{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;
 vertical-align:middle;border:1px solid #333}
#demine-panel .note{color:#555;font-size:12px}
.leaflet-interactive:focus{outline:none}
.demine-popup th{text-align:left;padding-right:.5rem;font-weight:600;vertical-align:top}
.demine-popup .links a{margin-right:.7rem}
.demine-task{box-sizing:border-box;width:16px;height:16px;border-radius:50%;
 border-width:3px;cursor:pointer}
.demine-number{background:#fff;border:2px solid #000;border-radius:50%;width:18px;
 height:18px;line-height:18px;text-align:center;font:bold 11px sans-serif;color:#000}
@media (max-width:800px){html body{flex-direction:column}
 #demine-panel{flex:0 0 auto;max-width:none;height:auto;border-left:0}
 html body>.folium-map{flex:0 0 70vh}}
@media print{html,body{height:auto}html body{flex-direction:column}
 html body>.folium-map{flex:0 0 auto;position:relative!important;inset:auto!important;
  height:90vh!important;width:100%!important}
 #demine-panel{flex:0 0 auto;border:0;max-width:none;height:auto;overflow:visible;
  break-before:page}}
</style>"""


def m2(value: float | None) -> str:
    """An area for people: whole square metres with thousands separators."""
    return "—" if value is None else f"{value:,.0f} m²"


Base = str | None


def link_base_of(link_base: str, inline: bool) -> Base:
    """Where the links of a page go: under `link_base` ("" keeps them relative); None
    (no links at all) for an exported file that names no server, whose relative links
    could only point into the disk."""
    return None if inline and not link_base else link_base


def links(base: Base, *pairs: tuple[str, str]) -> list[tuple[str, str]]:
    """(label, path) pairs as (label, href) under `base`; none when `base` is None."""
    return [] if base is None else [(label, f"{base}{path}") for label, path in pairs]


def anchor(base: Base, path: str, text: str) -> str:
    """`text` (escaped) as a link to `path` under `base`, or as plain text without one."""
    if base is None:
        return escape(text)
    return f'<a href="{escape(base + path)}" target="_top">{escape(text)}</a>'


def values(collection: dict[str, Any], name: str) -> set[str]:
    """The values of property `name` among the features of `collection`."""
    return {str(f["properties"][name]) for f in collection["features"]
            if (f.get("properties") or {}).get(name) is not None}


def popup_html(title: str, rows: Iterable[tuple[str, Any]],
               links: Sequence[tuple[str, str]] = ()) -> str:
    """A popup: a title, a table of the fields that have a value, and links (label,
    href). Every value is escaped: names and descriptions are free text from the field."""
    body = "".join(f"<tr><th>{escape(label)}</th><td>{escape(str(value))}</td></tr>"
                   for label, value in rows if value not in (None, ""))
    anchors = "".join(f'<a href="{escape(href)}" target="_top">{escape(label)}</a>'
                      for label, href in links)
    return (f'<div class="demine-popup"><b>{escape(title)}</b><table>{body}</table>'
            f'<div class="links">{anchors}</div></div>')


def with_popups(collection: dict[str, Any], popup: Callable[[dict[str, Any]], str],
                label: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
    """The collection with each feature's `popup` (HTML, escaped by popup_html) and
    `label` (escaped text for the tooltip) set from its properties."""
    features = []
    for feature in collection["features"]:
        props = dict(feature.get("properties") or {})
        props["popup"] = popup(props)
        props["label"] = escape(label(props))
        features.append({**feature, "properties": props})
    return {**collection, "features": features}


def layer(collection: dict[str, Any], name: str, style: Style, *, show: bool = True,
          marker: folium.CircleMarker | None = None, popup: bool = True,
          control: bool = True) -> folium.GeoJson:
    """A GeoJSON layer styled from each feature's properties, with the `label` tooltip
    and the `popup` of with_popups (`control` False: not listed in the layer control,
    for a part of a group)."""
    return folium.GeoJson(
        collection, name=name, show=show, marker=marker, control=control,
        style_function=lambda feature: style(feature["properties"]),
        highlight_function=lambda _feature: {"weight": 4},
        tooltip=folium.GeoJsonTooltip(["label"], labels=False),
        popup=folium.GeoJsonPopup(["popup"], labels=False, localize=False,
                                  max_width=360) if popup else None)


def fit(fmap: folium.Map, collections: Iterable[dict[str, Any]]) -> None:
    """Zoom the map to the features of `collections` (those with any)."""
    features = [f for c in collections for f in c.get("features", []) if f.get("geometry")]
    if features:
        minx, miny, maxx, maxy = bounds({"features": features})
        pad = 0.0005  # about 50 m: a point or a small area is not drawn against the edge
        fmap.fit_bounds([[miny - pad, minx - pad], [maxy + pad, maxx + pad]])


def add_panel(fmap: folium.Map, html: str) -> None:
    """Put `html` in a panel (id `demine-panel`) beside the map (under it on a narrow
    screen, after it in the print view)."""
    root = fmap.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(Element(PANEL_CSS), name="demine_panel_css")
    root.html.add_child(Element(f'<aside id="demine-panel">{html}</aside>'),
                        name="demine_panel")


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], *,
          numeric: Sequence[int] = (), table_id: str = "") -> str:
    """An HTML table of escaped cells; columns in `numeric` are aligned right."""
    def cell(tag: str, i: int, value: Any) -> str:
        cls = ' class="num"' if i in numeric else ""
        return f"<{tag}{cls}>{escape(str(value))}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = ["<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>"
            for row in rows]
    ident = f' id="{escape(table_id)}"' if table_id else ""
    return f"<table{ident}><tr>{head}</tr>{''.join(body)}</table>"


def search_rows(collection: dict[str, Any], kind: str,
                fields: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The search index (maps.common.decorate) of the features of `collection` that have
    a local id: where each lies (its box and centre) and the `fields` its popup shows."""
    rows = []
    for feature in collection["features"]:
        props = feature.get("properties") or {}
        if not props.get("local_id") or not feature.get("geometry"):
            continue
        minx, miny, maxx, maxy = bounds({"features": [feature]})
        rows.append({"local_id": props["local_id"], "id": props.get("id", feature.get("id")),
                     "kind": kind, "lat": (miny + maxy) / 2, "lon": (minx + maxx) / 2,
                     "bbox": [minx, miny, maxx, maxy],
                     **{name: props.get(name) for name in fields}})
    return rows


class IconPoints(Layer):  # type: ignore[misc]
    """Points drawn as small HTML icons: each feature's `icon` property is the icon's
    HTML (made by the builder from escaped text and the colours of maps/style.py), `dx`
    shifts it sideways by that many pixels (so that points sharing a place stay apart),
    with the `label` tooltip and `popup` of with_popups. (folium's own Popup needs
    jQuery, which the product does not load.)"""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON({{ this.data|tojson }}, {
            pointToLayer: function (f, latlng) {
                var half = {{ this.size }} / 2, dx = Number(f.properties.dx || 0);
                return L.marker(latlng, {
                    keyboard: false,
                    icon: L.divIcon({className: "", html: f.properties.icon,
                                     iconSize: [{{ this.size }}, {{ this.size }}],
                                     iconAnchor: [half - dx, half],
                                     popupAnchor: [dx, -half]})});
            },
            onEachFeature: function (f, l) {
                l.bindPopup(f.properties.popup, {maxWidth: 360});
                l.bindTooltip(f.properties.label, {offset: [Number(f.properties.dx || 0), 0]});
            }
        });
        {% endmacro %}
    """)

    def __init__(self, collection: dict[str, Any], *, name: str, size: int = 18,
                 control: bool = True, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=control, show=show)
        self._name = "IconPoints"
        self.data = collection
        self.size = size


def spread(collection: dict[str, Any], step: int) -> dict[str, Any]:
    """The collection with `dx` set so that points at one place sit side by side, `step`
    pixels apart, centred on it (those alone stay where they are)."""
    places: dict[tuple[float, ...], list[int]] = {}
    for i, feature in enumerate(collection["features"]):
        where = tuple(round(c, 6) for c in feature["geometry"]["coordinates"][:2])
        places.setdefault(where, []).append(i)
    features = [dict(f) for f in collection["features"]]
    for members in places.values():
        for slot, i in enumerate(members):
            props = dict(features[i].get("properties") or {})
            props["dx"] = round((slot - (len(members) - 1) / 2) * step)
            features[i]["properties"] = props
    return {**collection, "features": features}
