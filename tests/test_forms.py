"""The XLSForms we ship (survey/forms): they convert with pyxform, pass ODK Validate (the
JavaRosa parser ODK Collect and KoBoCollect use), are labelled in English and Ukrainian,
offer our vocabularies, are what their builder makes, and carry every column their
built-in mappings read."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pyxform.xls2xform import convert

from survey.forms import build_forms
from survey.forms.labels import CHOICES, LANGUAGES, label_codes
from survey.intake.mapping import VERTICES, load_mapping

FORMS_DIR = Path(build_forms.__file__).parent
FORMS = {f.file: f for f in build_forms.FORMS}
MAPPINGS = {"nts.xlsx": "nts", "progress_report.xlsx": "progress-report",
            "device_find.xlsx": "device-find"}
# columns an export adds that are no question of the form (KoBo, ODK Central)
EXPORT_COLUMNS = {"_submission__uuid", "PARENT_KEY"}
UNLABELLED = {"start", "end", "today", "deviceid", "calculate", "end_repeat", "end_group"}


def sheet(path: Path, name: str) -> list[dict[str, object]]:
    rows = list(load_workbook(path, read_only=True)[name].iter_rows(values_only=True))
    header = [str(h) for h in rows[0]]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


@pytest.mark.parametrize("file", sorted(FORMS))
def test_form_converts_with_pyxform(file):
    warnings: list[str] = []
    xform = convert(xlsform=str(FORMS_DIR / file), warnings=warnings).xform
    assert warnings == []
    form = FORMS[file]
    assert f'id="{form.form_id}"' in xform and f'version="{form.version}"' in xform
    for language in LANGUAGES:
        assert f'<translation lang="{language}"' in xform
    for q in form.questions:
        if q.type.startswith("geo"):  # bound with its type, in a repeat or not
            assert re.search(rf'nodeset="/data/(\w+/)?{q.name}" type="{q.type}"', xform), q.name


@pytest.mark.parametrize("file", sorted(FORMS))
def test_form_passes_odk_validate(file):
    """ODK Validate parses the XForm with JavaRosa, as ODK Collect does (needs Java)."""
    if shutil.which("java") is None:
        pytest.skip("ODK Validate needs a Java runtime (Debian: default-jre-headless)")
    convert(xlsform=str(FORMS_DIR / file), validate=True)


@pytest.mark.parametrize("file", sorted(FORMS))
def test_every_label_in_english_and_ukrainian(file):
    path = FORMS_DIR / file
    for row in sheet(path, "survey"):
        if row["type"] in UNLABELLED:
            continue
        for language in LANGUAGES:
            assert row[f"label::{language}"], (row["name"], language)
            if row.get(f"hint::{LANGUAGES[0]}"):
                assert row[f"hint::{language}"], (row["name"], language)
            if row.get("constraint"):
                assert row[f"constraint_message::{language}"], (row["name"], language)
    for row in sheet(path, "choices"):
        assert all(row[f"label::{language}"] for language in LANGUAGES), row
    settings = sheet(path, "settings")[0]
    assert settings["form_id"] == FORMS[file].form_id and settings["version"]
    assert settings["default_language"] == LANGUAGES[0]


def test_choice_lists_are_our_vocabularies():
    for name, (vocabulary, labels) in CHOICES.items():
        if vocabulary is not None:
            assert list(labels) == [code.value for code in vocabulary], name
            back = label_codes(vocabulary)
            for code, names in labels.items():
                assert all(back[" ".join(n.split()).casefold()] == code for n in names)
    used = {list_name for form in build_forms.FORMS for list_name in form.lists}
    assert used <= set(CHOICES)
    assert {"classification", "contamination", "evidence", "product", "method",
            "condition", "disposal_method", "report_kind"} <= used


def test_geometry_questions():
    kinds = {file: {q.name: q.type for q in form.questions if q.type.startswith("geo")}
             for file, form in FORMS.items()}
    assert kinds == {
        "nts.xlsx": {"boundary": "geoshape", "benchmark": "geopoint",
                     "reference_point": "geopoint", "route": "geotrace",
                     "evidence_location": "geopoint"},
        "progress_report.xlsx": {"released_area": "geoshape"},
        "device_find.xlsx": {"location": "geopoint"},
    }


def test_shipped_forms_are_what_the_builder_makes(tmp_path):
    """The .xlsx files are the builder's output: rebuilt, they hold the same cells."""
    build_forms.build(tmp_path)
    for file in FORMS:
        for name in ("survey", "choices", "settings"):
            assert sheet(tmp_path / file, name) == sheet(FORMS_DIR / file, name), (file, name)


@pytest.mark.parametrize("file", sorted(MAPPINGS))
def test_built_in_mapping_reads_the_forms_columns(file):
    """Every field of a built-in mapping reads at least one question of its form, and
    every geometry it reads is a geo question."""
    questions = {q.name: q.type for q in FORMS[file].questions
                 if not q.type.startswith("end_")}
    mapping = load_mapping(MAPPINGS[file])
    assert mapping.form_id == FORMS[file].form_id
    for kind, section in mapping.sections.items():
        rules = list(section.fields.items())
        for child in section.children:
            rules += list(child.fields.items())
            if child.repeat is not None:
                assert questions.get(child.repeat) == "begin_repeat", child.repeat
            if child.geometry != VERTICES:
                assert questions[str(child.geometry)].startswith("geo"), child.geometry
        for name, rule in rules:
            if rule.columns:
                assert any(c in questions or c in EXPORT_COLUMNS for c in rule.columns), \
                    (kind, name, rule.columns)
        for column in (section.coordinates or {}).values():
            assert questions[column].startswith("geo"), column
