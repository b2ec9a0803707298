"""A Report as JSON: `Report.to_dict()` with every label translated beside its msgid.

Each translatable string keeps its message id under its own key and gains its
translation under `<key>_t` (`"title": "Released land"`, `"title_t": "Звільнені землі"`),
so that a client can show the reader's language and still match labels across
languages; values stay raw (numbers as numbers, dates ISO, UUIDs as strings).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from maps.reports.html import filters_text
from maps.reports.i18n import Translator
from survey.reports.model import Report

# the keys whose string values are message ids, by the kind of object that holds them
_LABEL_KEYS = ("title", "label", "note")
# data, not labels: passed through as they are
_RAW_KEYS = frozenset({"features", "filters", "source", "bounds", "params"})


def _default(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        # exact for the figures we carry (areas to the cm², money to the cent)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _translate(node: Any, t: Translator, columns: dict[str, bool] | None = None,
               inherited: dict[str, Any] | None = None) -> Any:
    if isinstance(node, list):
        return [_translate(item, t, columns, inherited) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    # a section's params fill the `{name}` placeholders of its notes and its tables' notes
    params = node["params"] if isinstance(node.get("params"), dict) else inherited
    # a table's rows: translate the values of vocabulary columns beside the codes
    vocab_columns = ({column["key"]: column.get("translate_values", False)
                      for column in node["columns"]}
                     if isinstance(node.get("columns"), list) else columns)
    for key, value in node.items():
        if key in _RAW_KEYS:
            out[key] = value
            continue
        if key == "rows" and isinstance(value, list):
            out[key] = [_translate_row(row, t, vocab_columns or {}) for row in value]
            continue
        out[key] = _translate(value, t, vocab_columns, params)
        if key == "note" and isinstance(value, str):
            out["note_t"] = t.note(value, params)
        elif key in _LABEL_KEYS and isinstance(value, str):
            out[f"{key}_t"] = t.label(value)
        elif key == "unit" and isinstance(value, str):
            out["unit_t"] = t.unit(value)
        elif key == "notes" and isinstance(value, list):
            out["notes_t"] = [t.note(note, params) for note in value if isinstance(note, str)]
    return out


def _translate_row(row: Any, t: Translator, vocab_columns: dict[str, bool]) -> Any:
    if not isinstance(row, dict):
        return row
    out = dict(row)
    for key, translate in vocab_columns.items():
        if translate and row.get(key) is not None:
            out[f"{key}_t"] = t.vocab(row[key])
    return out


def report_json(report: Report, t: Translator) -> bytes:
    body = _translate(report.to_dict(), t)
    body["lang"] = t.lang
    body["period_t"] = t.period(report.filters.date_from, report.filters.date_to)
    body["filters_t"] = filters_text(report.filters, t)
    return json.dumps(body, default=_default, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")
