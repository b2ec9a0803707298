"""The national overview: hazard areas by classification and status, released land by
product, device finds clustered by category, tasks by status, admin areas with their
remaining contamination on hover. Small layers are embedded in the page (simplified for
the screen by survey/maps_overview.py); a layer above the threshold is drawn from the
vector tiles with the same symbology and popups. The page says which is which."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import folium

from maps.common import AssetMode, GeoJsonLayer, TileLayer, base_map, decorate
from maps.style import SYMBOLOGY, overview_legend_entries
from survey.maps_overview import Bbox, LayerData

TILES_URL = "/tiles/{layer}/{z}/{x}/{y}.mvt"

LAYER_NAMES = {
    "admin-areas": "Administrative areas",
    "hazard-areas": "Hazard areas",
    "tasks": "Tasks",
    "releases": "Released land",
    "device-finds": "Device finds",
}

# tiled layers whose features lie inside hazard areas, hence inside the page's extent (the
# hazard areas' extent or the bbox asked for): no tile outside it is requested
WITHIN_HAZARD_AREAS = frozenset({"hazard-areas", "remaining", "releases", "tasks"})


def describe(layer: LayerData) -> str:
    """One line of the page's summary: what the layer shows and how it is drawn."""
    how = "in the page"
    if not layer.embedded:
        zoom = SYMBOLOGY.get(layer.name, {}).get("tiles_min_zoom", 0)
        how = "from the vector tiles" + (f", from zoom {zoom}" if zoom else "")
    return f"{LAYER_NAMES[layer.name]}: {layer.total:,} ({how})"


TILED_NOTE = ("Layers from the vector tiles draw at most {cap:,} features per tile, the "
              "largest first: zoom in for the rest.")


def overview_map(
    layers: Mapping[str, LayerData],
    *,
    extent: Bbox | None = None,
    place_names: dict[str, Any] | None = None,
    tiles_url: str = TILES_URL,
    basemap_url: str | None = None,
    static_url: str = "/static",
    assets: AssetMode = "served",
    search_url: str | None = None,
    search_index: list[dict[str, Any]] | None = None,
    link_base: str = "",
    title: str = "National overview",
    as_of: str | None = None,
    tile_cap: int = 4000,
) -> folium.Map:
    """A folium map of `layers` (survey.maps_overview.overview_data: tile layer name →
    LayerData), in drawing order. Embedded layers come from their collections; the
    others from `tiles_url` (`{layer}` is replaced by the layer's name). Without
    `basemap_url` the map has no background: `place_names` (admin-area names) are drawn
    instead. `extent` (minx, miny, maxx, maxy) frames the map; `tile_cap` is the tiles'
    feature cap per tile, which the page states."""
    fmap = base_map(basemap_url=basemap_url, fit=extent)
    for name, layer in layers.items():
        label = LAYER_NAMES.get(name, name)
        if layer.collection is not None:
            if not layer.collection.get("features"):
                continue
            GeoJsonLayer(name, layer.collection, name=label, hover=name == "admin-areas",
                         cluster=name == "device-finds").add_to(fmap)
        else:
            # the hazard areas first: the other tiled layers wait until they have drawn
            after = ("hazard-areas" if name != "hazard-areas" and "hazard-areas" in layers
                     else None)
            TileLayer(name, tiles_url.replace("{layer}", name), name=label,
                      min_zoom=SYMBOLOGY.get(name, {}).get("tiles_min_zoom", 0),
                      hover=name == "admin-areas", after=after,
                      bounds=extent if name in WITHIN_HAZARD_AREAS else None).add_to(fmap)
    if not basemap_url and place_names and place_names.get("features"):
        GeoJsonLayer("place-names", place_names, name="Place names").add_to(fmap)
    summary = [describe(layer) for layer in layers.values()]
    if any(not layer.embedded for layer in layers.values()):
        summary.append(TILED_NOTE.format(cap=tile_cap))
    if not layers:
        summary.append("Nothing this account may see.")
    if as_of:
        summary.append(f"Data as of {as_of}")
    decorate(fmap, title=title, legend=overview_legend_entries(), summary=summary,
             search_url=search_url, search_index=search_index, static_url=static_url,
             assets=assets, link_base=link_base)
    return fmap
