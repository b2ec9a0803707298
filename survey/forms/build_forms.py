"""Build the XLSForms we ship (nts.xlsx, progress_report.xlsx, device_find.xlsx).

The forms are data here, so they are reproducible and reviewable in a diff; the .xlsx
files next to this script are its output, loaded by KoBoToolbox or ODK Central and filled
in with KoBoCollect or ODK Collect. Run it after changing a form:

    python -m survey.forms.build_forms [OUT_DIR]

Every label and hint is in English and Ukrainian (`label::English (en)`,
`label::Ukrainian (uk)`); the choice lists are our vocabularies (survey.forms.labels).
Column names are what the built-in mappings (survey/intake/mappings/*.yaml) read, so a
rename here is a rename there: tests/test_forms.py converts each form with pyxform and
reads a filled-in export of it through its mapping.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from survey.forms.labels import CHOICES, LANGUAGES

HERE = Path(__file__).resolve().parent

# the local id rule of the store (hazard_area.local_id and task.local_id CHECKs)
LOCAL_ID = r"regex(., '^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$')"
LOCAL_ID_MESSAGE = ("Letters, digits and . _ / - only, e.g. UA-KH-000123",
                    "Лише літери, цифри та . _ / -, напр. UA-KH-000123")
NOT_FUTURE = ". <= today()"
NOT_FUTURE_MESSAGE = ("The date cannot be in the future", "Дата не може бути в майбутньому")
NOT_NEGATIVE = ". >= 0"
NOT_NEGATIVE_MESSAGE = ("Cannot be negative", "Не може бути від'ємним")

Text = tuple[str, str]  # (English, Ukrainian)


@dataclass(frozen=True)
class Question:
    """One row of the survey sheet."""

    type: str
    name: str
    label: Text | None = None
    hint: Text | None = None
    required: bool = False
    constraint: str | None = None
    constraint_message: Text | None = None
    relevant: str | None = None
    default: str | None = None
    calculation: str | None = None
    appearance: str | None = None
    parameters: str | None = None


@dataclass(frozen=True)
class Form:
    file: str
    form_id: str
    version: str
    title: Text
    instance_name: str
    questions: list[Question] = field(default_factory=list)

    @property
    def lists(self) -> list[str]:
        """The choice lists the form's select questions use, in order of first use."""
        names: list[str] = []
        for q in self.questions:
            parts = q.type.split()
            if parts[0] in ("select_one", "select_multiple") and parts[1] not in names:
                names.append(parts[1])
        return names


def _meta() -> list[Question]:
    return [Question("start", "start"), Question("end", "end"), Question("today", "today"),
            Question("deviceid", "deviceid")]


def _date(name: str, label: Text, *, required: bool = True, hint: Text | None = None,
          default_today: bool = True, relevant: str | None = None) -> Question:
    return Question("date", name, label, hint=hint, required=required, constraint=NOT_FUTURE,
                    constraint_message=NOT_FUTURE_MESSAGE, relevant=relevant,
                    default="today()" if default_today else None)


def _count(name: str, label: Text, *, relevant: str | None = None,
           hint: Text | None = None) -> Question:
    return Question("integer", name, label, hint=hint, constraint=NOT_NEGATIVE,
                    constraint_message=NOT_NEGATIVE_MESSAGE, relevant=relevant)


def _hazard_id(*, required: bool = True) -> Question:
    return Question("text", "hazard_id",
                    ("Hazard area ID", "Ідентифікатор небезпечної території"),
                    hint=("As given by the national authority, e.g. UA-KH-000123",
                          "Як присвоєно національним органом, напр. UA-KH-000123"),
                    required=required, constraint=LOCAL_ID,
                    constraint_message=LOCAL_ID_MESSAGE)


def _organisation() -> list[Question]:
    return [
        Question("text", "organisation", ("Organisation", "Організація"),
                 hint=("Name or acronym as registered", "Назва або абревіатура, як зареєстровано"),
                 required=True),
        Question("text", "team", ("Team", "Команда")),
    ]


NTS = Form(
    file="nts.xlsx",
    form_id="demine_nts",
    version="2025060101",
    title=("Non-technical survey", "Нетехнічне обстеження"),
    instance_name="concat(${hazard_id}, ' ', ${survey_date})",
    questions=[
        *_meta(),
        _hazard_id(),
        Question("text", "area_name", ("Name of the area", "Назва території"),
                 hint=("Village, field or landmark", "Населений пункт, поле чи орієнтир")),
        _date("survey_date", ("Survey date", "Дата обстеження")),
        *_organisation(),
        Question("select_one classification", "classification",
                 ("Classification", "Класифікація"), required=True),
        Question("select_one evidence", "evidence", ("Evidence", "Докази"), required=True,
                 hint=("A confirmed area (CHA) needs direct evidence",
                       "Підтверджена територія (CHA) потребує прямих доказів"),
                 constraint="${classification} != 'CHA' or . = 'direct'",
                 constraint_message=("A CHA is confirmed by direct evidence",
                                     "CHA підтверджується прямими доказами")),
        Question("select_multiple contamination", "contamination",
                 ("Contamination", "Тип забруднення"), required=True),
        Question("select_one land_use", "land_use", ("Land use", "Використання землі")),
        Question("integer", "priority", ("Priority", "Пріоритет"),
                 hint=("1 highest, 5 lowest", "1 — найвищий, 5 — найнижчий"),
                 constraint=". >= 1 and . <= 5",
                 constraint_message=("From 1 to 5", "Від 1 до 5")),
        _count("beneficiaries", ("Beneficiaries", "Кількість бенефіціарів"),
               hint=("People who will use the land", "Люди, які користуватимуться землею")),
        Question("geoshape", "boundary",
                 ("Boundary of the hazard area", "Межа небезпечної території"),
                 hint=("Walk or tap the turning points in order",
                       "Пройдіть або позначте поворотні точки по порядку"),
                 required=True),
        Question("geopoint", "benchmark", ("Benchmark", "Опорна точка (репер)"),
                 hint=("A fixed point outside the area the boundary is measured from",
                       "Незмінна точка поза територією, від якої виміряно межу")),
        Question("geopoint", "reference_point", ("Reference point", "Орієнтир"),
                 hint=("A landmark that helps find the benchmark",
                       "Помітний об'єкт, за яким можна знайти опорну точку")),
        Question("geotrace", "route", ("Route walked", "Пройдений маршрут"),
                 hint=("The way the team walked in and out",
                       "Шлях, яким команда зайшла та вийшла")),
        Question("begin_repeat", "evidence_points", ("Evidence point", "Точка доказу")),
        Question("geopoint", "evidence_location", ("Location", "Розташування"),
                 required=True),
        Question("select_one evidence", "evidence_kind", ("Evidence", "Докази"),
                 required=True),
        Question("text", "evidence_description", ("What was seen", "Що виявлено"),
                 hint=("e.g. crater, fragments, warning sign, accident",
                       "напр. вирва, уламки, попереджувальний знак, нещасний випадок"),
                 required=True),
        _date("evidence_date", ("Observed on", "Дата спостереження")),
        Question("calculate", "evidence_hazard_id", calculation="${hazard_id}"),
        Question("end_repeat", "evidence_points"),
        Question("text", "notes", ("Notes", "Примітки"), appearance="multiline"),
    ],
)

PROGRESS_REPORT = Form(
    file="progress_report.xlsx",
    form_id="demine_progress_report",
    version="2025060101",
    title=("Technical survey and clearance: progress report",
           "Технічне обстеження та розмінування: звіт про хід робіт"),
    instance_name="concat(${hazard_id}, ' ', ${report_date})",
    questions=[
        *_meta(),
        _date("report_date", ("Report date", "Дата звіту")),
        Question("select_one report_kind", "report_kind", ("Report", "Вид звіту"),
                 required=True, default="progress"),
        _hazard_id(),
        Question("text", "task_id", ("Task ID", "Ідентифікатор завдання"),
                 constraint=LOCAL_ID, constraint_message=LOCAL_ID_MESSAGE),
        *_organisation(),
        _date("period_start", ("First day worked", "Перший робочий день"), required=False,
              default_today=False),
        Question("date", "period_end", ("Last day worked", "Останній робочий день"),
                 constraint=". >= ${period_start} and . <= today()",
                 constraint_message=("After the first day and not in the future",
                                     "Не раніше першого дня і не в майбутньому")),
        Question("decimal", "team_days", ("Team-days worked", "Відпрацьовано командо-днів"),
                 required=True, constraint=NOT_NEGATIVE, constraint_message=NOT_NEGATIVE_MESSAGE),
        _count("depth_cm", ("Clearance depth (cm)", "Глибина очищення (см)")),
        _count("handover_men", ("Men at the handover", "Чоловіки на передачі"),
               relevant="${report_kind} = 'handover'"),
        _count("handover_women", ("Women at the handover", "Жінки на передачі"),
               relevant="${report_kind} = 'handover'"),
        _count("handover_boys", ("Boys at the handover", "Хлопці на передачі"),
               relevant="${report_kind} = 'handover'"),
        _count("handover_girls", ("Girls at the handover", "Дівчата на передачі"),
               relevant="${report_kind} = 'handover'"),
        Question("begin_repeat", "release", ("Released land", "Звільнена земля")),
        Question("geoshape", "released_area", ("Area released", "Звільнена ділянка"),
                 hint=("Its boundary, inside the hazard area",
                       "Її межа, в межах небезпечної території"),
                 required=True),
        Question("select_one product", "product", ("Released by", "Спосіб звільнення"),
                 required=True),
        Question("select_one method", "method", ("Method", "Метод"), required=True,
                 constraint="(${product} = 'cancelled' and . = 'NTS') or "
                            "(${product} != 'cancelled' and . != 'NTS')",
                 constraint_message=("Cancellation is by non-technical survey only",
                                     "Скасування — лише нетехнічним обстеженням")),
        Question("select_one yes_no", "technical_asset",
                 ("Technical asset used", "Використано технічний засіб"),
                 default="no", relevant="${product} != 'cancelled'"),
        _count("release_depth_cm", ("Depth (cm)", "Глибина (см)"),
               relevant="${product} != 'cancelled'"),
        Question("calculate", "release_hazard_id", calculation="${hazard_id}"),
        Question("calculate", "release_date", calculation="${report_date}"),
        Question("end_repeat", "release"),
        Question("text", "notes", ("Notes", "Примітки"), appearance="multiline"),
    ],
)

DEVICE_FIND = Form(
    file="device_find.xlsx",
    form_id="demine_device_find",
    version="2025060101",
    title=("Device find", "Знахідка вибухонебезпечного предмета"),
    instance_name="concat(${ordnance_model}, ' ', ${find_date})",
    questions=[
        *_meta(),
        _date("find_date", ("Date found", "Дата знахідки")),
        Question("geopoint", "location", ("Where it was found", "Місце знахідки"),
                 required=True),
        _hazard_id(required=False),
        Question("select_one ordnance_category", "ordnance_category",
                 ("Category", "Категорія")),
        Question("text", "ordnance_model", ("Model", "Модель"), required=True,
                 hint=("As in the catalogue, e.g. PMN-2, TM-62M, VOG-17",
                       "Як у каталозі, напр. ПМН-2, ТМ-62М, ВОГ-17")),
        Question("integer", "quantity", ("Quantity", "Кількість"), required=True,
                 default="1", constraint=". >= 1",
                 constraint_message=("At least 1", "Щонайменше 1")),
        _count("depth_cm", ("Depth (cm)", "Глибина (см)")),
        Question("select_one condition", "condition", ("Condition", "Стан"), required=True,
                 default="unknown"),
        Question("select_one disposal_method", "disposal_method",
                 ("Disposal", "Знешкодження")),
        Question("date", "disposal_date", ("Disposal date", "Дата знешкодження"),
                 required=True, relevant="${disposal_method} != ''",
                 constraint=". >= ${find_date} and . <= today()",
                 constraint_message=("On or after the find, and not in the future",
                                     "Не раніше знахідки і не в майбутньому")),
        # photos shrunk on the phone: sent faster over a poor connection
        Question("image", "photo", ("Photo", "Фото"), parameters="max-pixels=1280"),
        Question("text", "notes", ("Notes", "Примітки"), appearance="multiline"),
    ],
)

FORMS = (NTS, PROGRESS_REPORT, DEVICE_FIND)

_EN, _UK = LANGUAGES
SURVEY_COLUMNS = ("type", "name", f"label::{_EN}", f"label::{_UK}", f"hint::{_EN}",
                  f"hint::{_UK}", "required", "constraint", f"constraint_message::{_EN}",
                  f"constraint_message::{_UK}", "relevant", "default", "calculation",
                  "appearance", "parameters")
CHOICE_COLUMNS = ("list_name", "name", f"label::{_EN}", f"label::{_UK}")
SETTINGS_COLUMNS = ("form_title", "form_id", "version", "default_language", "instance_name")


def _pair(text: Text | None) -> tuple[str | None, str | None]:
    return (text[0], text[1]) if text else (None, None)


def sheets(form: Form) -> dict[str, list[tuple[str | None, ...]]]:
    """The form's three sheets as rows (the header first)."""
    survey: list[tuple[str | None, ...]] = [SURVEY_COLUMNS]
    for q in form.questions:
        survey.append((q.type, q.name, *_pair(q.label), *_pair(q.hint),
                       "yes" if q.required else None, q.constraint,
                       *_pair(q.constraint_message), q.relevant, q.default, q.calculation,
                       q.appearance, q.parameters))
    choices: list[tuple[str | None, ...]] = [CHOICE_COLUMNS]
    for list_name in form.lists:
        _, labels = CHOICES[list_name]
        for code, (en, uk) in labels.items():
            choices.append((list_name, code, en, uk))
    settings: list[tuple[str | None, ...]] = [
        SETTINGS_COLUMNS,
        (f"{form.title[0]} / {form.title[1]}", form.form_id, form.version, _EN,
         form.instance_name)]
    return {"survey": survey, "choices": choices, "settings": settings}


# fixed document times, so that a rebuild of an unchanged form differs in nothing visible
_STAMP = datetime(2025, 6, 1)


def write(form: Form, out_dir: Path) -> Path:
    """Write one form as an .xlsx workbook in `out_dir`; return its path."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    for title, rows in sheets(form).items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for column in sheet.columns:
            width = max(len(str(c.value or "")) for c in column)
            sheet.column_dimensions[column[0].column_letter].width = min(max(width, 8), 60)
    workbook.properties.creator = "demine"
    workbook.properties.created = _STAMP
    workbook.properties.modified = _STAMP
    path = out_dir / form.file
    workbook.save(path)
    return path


def build(out_dir: Path = HERE) -> list[Path]:
    """Write every form to `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [write(form, out_dir) for form in FORMS]


if __name__ == "__main__":
    for written in build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(written)
