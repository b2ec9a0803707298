"""Report charts and the static report map, drawn with matplotlib (Agg) as images.

Nothing here touches pyplot's global state or the network: each picture is its own
`matplotlib.figure.Figure` on an Agg canvas, returned as bytes for a data URI, so the
HTML and the PDF made from it carry their pictures inside them.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import date
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as PlotFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from maps.reports.i18n import Translator
from maps.style import (
    ADMIN_OUTLINE,
    CLASSIFICATION_FILL,
    FILL_OPACITY,
    PRODUCT_FILL,
    STATUS_OUTLINE,
)
from survey.reports.model import Chart, MapSpec, Table

# series that are not land-release products take these, in order (colour-blind safe)
PALETTE = ("#1F4E9A", "#F08C00", "#2E7D32", "#8E44AD", "#7F8C8D", "#C0392B", "#16A085")
DPI = 150
MAX_BARS = 30  # categories a bar chart draws; its table lists them all
SMALL_SHARE = 0.012  # an area narrower than this share of the map gets a dot as well


def _series_colours(series: Sequence[str]) -> list[str]:
    spare = iter(PALETTE)
    return [PRODUCT_FILL.get(key) or next(spare, "#999999") for key in series]


def _as_png(figure: PlotFigure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _x_label(value: Any, chart: Chart, column_kind: str, t: Translator) -> str:
    if isinstance(value, int):
        return str(value)  # a year (the national report's yearly bars): 2026, not 2,026
    if chart.kind == "monthly_stacked_bar" and value is not None:
        try:
            return t.month(value)
        except ValueError:
            return str(value)
    if isinstance(value, date):
        return t.day(value, "short")
    return t.vocab(value) if column_kind == "vocab" else str(value if value is not None else "")


def chart_png(chart: Chart, table: Table, t: Translator) -> bytes | None:
    """The chart as a PNG, or None when its table has no rows (the page says so instead).

    A monthly chart stacks its series in columns, one a month; a `bar` chart lays its
    categories out as horizontal bars, so that long names (in Ukrainian, often) stay
    readable; it draws the first `MAX_BARS` rows (the table below it has them all).
    """
    if not table.rows:
        return None
    columns = {column.key: column for column in table.columns}
    x_column = columns.get(chart.x)
    x_kind = "vocab" if x_column is not None and x_column.translate_values else ""
    rows = table.rows if chart.kind == "monthly_stacked_bar" else table.rows[:MAX_BARS]
    labels = [_x_label(row.get(chart.x), chart, x_kind, t) for row in rows]
    colours = _series_colours(chart.series)
    names = [t.label(columns[key].label) if key in columns else key for key in chart.series]
    positions = list(range(len(labels)))
    formatter = FuncFormatter(
        lambda value, _pos: t.number(value, kind="int" if abs(value) >= 10 else "float"))
    if chart.kind == "monthly_stacked_bar":
        figure = PlotFigure(figsize=(7.2, 3.2), layout="constrained")
        axes = figure.add_subplot()
        bottom = [0.0] * len(labels)
        for key, colour, name in zip(chart.series, colours, names, strict=True):
            values = [float(row.get(key) or 0) for row in rows]
            axes.bar(positions, values, bottom=bottom, color=colour, label=name, width=0.7)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        axes.set_xticks(positions, labels, rotation=45 if len(labels) > 6 else 0,
                        ha="right" if len(labels) > 6 else "center", fontsize=8)
        axes.yaxis.set_major_formatter(formatter)
        if chart.unit:
            axes.set_ylabel(t.unit(chart.unit))
        axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    else:
        figure = PlotFigure(figsize=(7.2, min(9.0, 1.0 + 0.3 * len(labels) * len(chart.series)
                                            ** 0.5)), layout="constrained")
        axes = figure.add_subplot()
        height = 0.8 / max(1, len(chart.series))
        for index, (key, colour, name) in enumerate(
                zip(chart.series, colours, names, strict=True)):
            values = [float(row.get(key) or 0) for row in rows]
            axes.barh([p + index * height - 0.4 + height / 2 for p in positions], values,
                      height=height, color=colour, label=name)
        axes.set_yticks(positions, labels, fontsize=8)
        axes.invert_yaxis()  # the table's first row on top
        axes.xaxis.set_major_formatter(formatter)
        if chart.unit:
            axes.set_xlabel(t.unit(chart.unit))
        axes.grid(axis="x", color="#dddddd", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_axisbelow(True)
    if len(chart.series) > 1 or chart.kind == "monthly_stacked_bar":
        figure.legend(fontsize=8, frameon=False, loc="outside upper center",
                      ncols=len(chart.series))
    return _as_png(figure)


# --- the static map ---

def _features(features: list[dict[str, Any]]) -> list[tuple[Any, dict[str, Any]]]:
    """(shapely geometry, properties) of GeoJSON Features (or of dicts that carry a
    `geometry` beside their properties)."""
    from shapely.geometry import shape

    out = []
    for feature in features:
        geometry = feature.get("geometry")
        if not geometry:
            continue
        properties = feature.get("properties")
        if properties is None:
            properties = {key: value for key, value in feature.items() if key != "geometry"}
        out.append((shape(geometry), properties))
    return out


def _total_bounds(geometries: list[Any]) -> tuple[float, float, float, float]:
    import shapely

    min_x, min_y, max_x, max_y = shapely.total_bounds(geometries)
    return float(min_x), float(min_y), float(max_x), float(max_y)


def _mark_small(axes: Any, geometries: list[Any], small: float, style: str,
                code: str) -> None:
    """A dot on each area too small to see at the map's scale (a hazard area of a few
    hectares on a national map), in its fill colour, so that no area vanishes."""
    points = [geometry.representative_point() for geometry in geometries
              if max(geometry.bounds[2] - geometry.bounds[0],
                     geometry.bounds[3] - geometry.bounds[1]) < small]
    if not points:
        return
    colour = (CLASSIFICATION_FILL.get(code, "#999999") if style == "hazard"
              else PRODUCT_FILL.get(code, "#999999"))
    axes.scatter([p.x for p in points], [p.y for p in points], s=14 if style == "hazard" else 7,
                 c=colour, edgecolors="#333333", linewidths=0.3,
                 marker="o" if style == "hazard" else "s", zorder=3 if style == "release" else 2)


def _draw(axes: Any, geometries: list[Any], **style: Any) -> None:
    import geopandas

    geopandas.GeoSeries(geometries, crs="EPSG:4326").plot(ax=axes, **style)


def map_png(spec: MapSpec, t: Translator) -> bytes | None:
    """The report map as a PNG: hazard areas filled by classification (IMAS colours) and
    outlined by status, released land filled by product, admin areas dashed; no tiles
    (a report prints without a network). None when no layer has a feature."""
    layers = [(layer, _features(layer.features)) for layer in spec.layers]
    if not any(features for _layer, features in layers):
        return None
    figure = PlotFigure(figsize=(7.2, 4.8), layout="constrained")
    axes = figure.add_subplot()
    legend: dict[str, Any] = {}
    # one GeoSeries per style: a national map holds thousands of areas
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for layer, features in layers:
        for geometry, properties in features:
            if layer.style == "hazard":
                key = (str(properties.get("classification", "SHA")),
                       str(properties.get("status", "open")))
            elif layer.style == "release":
                key = (str(properties.get("product", "")), "")
            else:
                key = (layer.title, "")
            groups.setdefault((layer.style, *key), []).append(geometry)
    order = {"admin": 0, "hazard": 1, "release": 2}
    products = {product: index for index, product in enumerate(PRODUCT_FILL)}
    extent = spec.bounds or _total_bounds([g for gs in groups.values() for g in gs])
    small = max(extent[2] - extent[0], extent[3] - extent[1]) * SMALL_SHARE
    for (style, first, second), geometries in sorted(
            groups.items(), key=lambda item: (order.get(item[0][0], 3),
                                              products.get(item[0][1], -1), item[0])):
        if style in ("hazard", "release"):
            _mark_small(axes, geometries, small, style, first)
        if style == "hazard":
            fill = CLASSIFICATION_FILL.get(first, "#999999")
            outline = STATUS_OUTLINE.get(second, STATUS_OUTLINE["open"])
            # the fill is half transparent, the outline is not
            _draw(axes, geometries, facecolor=fill, alpha=FILL_OPACITY, edgecolor="none")
            _draw(axes, geometries, facecolor="none", edgecolor=outline["color"],
                  linewidth=outline["weight"] * 0.4,
                  linestyle="--" if outline["dashArray"] else "-")
            legend.setdefault(f"hazard:{first}", Patch(
                facecolor=fill, alpha=FILL_OPACITY, edgecolor="#000000", label=t.vocab(first)))
        elif style == "release":
            fill = PRODUCT_FILL.get(first, "#999999")
            _draw(axes, geometries, facecolor=fill, edgecolor="#1B5E20", linewidth=0.4)
            legend.setdefault(f"release:{first}", Patch(
                facecolor=fill, edgecolor="#1B5E20",
                label=f"{t.gettext('Released')}: {t.vocab(first)}"))
        else:
            _draw(axes, geometries, facecolor="none", edgecolor=str(ADMIN_OUTLINE["color"]),
                  linewidth=0.6, linestyle="--")
            legend.setdefault(f"admin:{first}", Line2D(
                [], [], color=str(ADMIN_OUTLINE["color"]), linestyle="--",
                label=t.label(first)))
    if spec.bounds:
        min_lon, min_lat, max_lon, max_lat = spec.bounds
        pad_lon, pad_lat = (max_lon - min_lon) * 0.03, (max_lat - min_lat) * 0.03
        axes.set_xlim(min_lon - pad_lon, max_lon + pad_lon)
        axes.set_ylim(min_lat - pad_lat, max_lat + pad_lat)
    min_lat, max_lat = axes.get_ylim()
    # lon/lat drawn to scale at the map's middle latitude
    axes.set_aspect(1 / max(0.05, math.cos(math.radians((min_lat + max_lat) / 2))))
    _scale_bar(axes, t)
    axes.set_xlabel("")
    axes.set_ylabel("")
    axes.set_xticks([])
    axes.set_yticks([])
    for spine in axes.spines.values():
        spine.set_edgecolor("#999999")
    if legend:
        axes.legend(handles=list(legend.values()), fontsize=7, loc="lower left",
                    framealpha=0.9)
    return _as_png(figure)


def _scale_bar(axes: Any, t: Translator) -> None:
    """A scale bar of a round length, about a fifth of the map's width."""
    min_lon, max_lon = axes.get_xlim()
    min_lat, max_lat = axes.get_ylim()
    metres_per_degree = 111_320 * math.cos(math.radians((min_lat + max_lat) / 2))
    width_m = (max_lon - min_lon) * metres_per_degree
    if width_m <= 0:
        return
    target = width_m / 5
    magnitude = 10 ** math.floor(math.log10(target))
    length_m = max(step * magnitude for step in (1, 2, 5) if step * magnitude <= target)
    length_deg = length_m / metres_per_degree
    x0 = max_lon - (max_lon - min_lon) * 0.05 - length_deg
    y0 = min_lat + (max_lat - min_lat) * 0.05
    axes.plot([x0, x0 + length_deg], [y0, y0], color="#000000", linewidth=2)
    text = (f"{t.number(length_m / 1000, kind='float')} {t.unit('km')}" if length_m >= 1000
            else f"{t.number(length_m, kind='int')} {t.unit('m')}")
    axes.text(x0 + length_deg / 2, y0 + (max_lat - min_lat) * 0.015, text,
              ha="center", va="bottom", fontsize=7)
