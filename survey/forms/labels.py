"""English and Ukrainian labels of the coded values our XLSForms offer.

One table for two uses: the form builder (build_forms.py) writes them as the choices of
the forms, and validation (survey.intake.validate) reads a label back as its code, for
exports that carry labels instead of codes ("Suspected hazardous area (SHA)" is SHA,
"Протипіхотні міни" is AP_MINE). The codes are the vocabularies' (survey.domain.vocab);
tests/test_forms.py keeps the two in step.
"""

from __future__ import annotations

from enum import StrEnum

from survey.domain.vocab import (
    Classification,
    Contamination,
    DeviceCondition,
    DisposalMethod,
    Evidence,
    LandUse,
    Method,
    OrdnanceCategory,
    Product,
    ReportKind,
)

LANGUAGES = ("English (en)", "Ukrainian (uk)")

Labels = dict[str, tuple[str, str]]  # code -> (English, Ukrainian)

# list name in the forms -> (vocabulary, labels of each code)
CHOICES: dict[str, tuple[type[StrEnum] | None, Labels]] = {
    "classification": (Classification, {
        "SHA": ("Suspected hazardous area (SHA)", "Підозріла небезпечна територія (SHA)"),
        "CHA": ("Confirmed hazardous area (CHA)", "Підтверджена небезпечна територія (CHA)"),
    }),
    "evidence": (Evidence, {
        "direct": ("Direct evidence (seen: mines, fragments, accidents)",
                   "Прямі докази (бачили: міни, уламки, нещасні випадки)"),
        "indirect": ("Indirect evidence (reports, former front line)",
                     "Непрямі докази (повідомлення, колишня лінія фронту)"),
    }),
    "contamination": (Contamination, {
        "AP_MINE": ("Anti-personnel mines", "Протипіхотні міни"),
        "AT_MINE": ("Anti-tank mines", "Протитанкові міни"),
        "CMR": ("Cluster munition remnants", "Залишки касетних боєприпасів"),
        "UXO": ("Unexploded ordnance", "Нерозірвані боєприпаси"),
        "AXO": ("Abandoned explosive ordnance", "Залишені вибухонебезпечні предмети"),
        "IED": ("Improvised explosive devices", "Саморобні вибухові пристрої"),
    }),
    "land_use": (LandUse, {
        "agricultural": ("Agricultural land", "Сільськогосподарські угіддя"),
        "pasture": ("Pasture", "Пасовище"),
        "forest": ("Forest", "Ліс"),
        "residential": ("Residential", "Житлова забудова"),
        "infrastructure": ("Infrastructure (roads, power, water)",
                           "Інфраструктура (дороги, електромережі, водопостачання)"),
        "water": ("Water", "Водні об'єкти"),
        "other": ("Other", "Інше"),
    }),
    "report_kind": (ReportKind, {
        "progress": ("Progress report", "Звіт про хід робіт"),
        "completion": ("Completion report", "Звіт про завершення робіт"),
        "cancellation": ("Cancellation report", "Звіт про скасування"),
        "handover": ("Handover certificate", "Акт передачі земель"),
    }),
    "product": (Product, {
        "cancelled": ("Cancelled (by non-technical survey)",
                      "Скасовано (нетехнічним обстеженням)"),
        "reduced": ("Reduced (by technical survey)", "Зменшено (технічним обстеженням)"),
        "cleared": ("Cleared", "Очищено (розміновано)"),
    }),
    "method": (Method, {
        "NTS": ("Non-technical survey", "Нетехнічне обстеження"),
        "MANUAL": ("Manual clearance", "Ручне розмінування"),
        "MDD": ("Mine detection dogs", "Собаки-детектори мін"),
        "MECHANICAL": ("Mechanical", "Механізоване розмінування"),
        "COMBINED": ("Combined methods", "Комбінований метод"),
    }),
    "yes_no": (None, {
        "yes": ("Yes", "Так"),
        "no": ("No", "Ні"),
    }),
    "ordnance_category": (OrdnanceCategory, {
        "AP_MINE": ("Anti-personnel mine", "Протипіхотна міна"),
        "AT_MINE": ("Anti-tank mine", "Протитанкова міна"),
        "SUBMUNITION": ("Submunition (cluster)", "Касетний суббоєприпас"),
        "PROJECTILE": ("Artillery projectile", "Артилерійський снаряд"),
        "MORTAR": ("Mortar bomb", "Мінометна міна"),
        "ROCKET": ("Rocket", "Реактивний снаряд"),
        "GRENADE": ("Grenade", "Граната"),
        "AIRCRAFT_BOMB": ("Aircraft bomb", "Авіаційна бомба"),
        "AXO": ("Abandoned ordnance", "Залишений боєприпас"),
        "IED": ("Improvised explosive device", "Саморобний вибуховий пристрій"),
        "OTHER": ("Other", "Інше"),
    }),
    "condition": (DeviceCondition, {
        "armed": ("Armed", "У бойовому положенні"),
        "unarmed": ("Not armed", "Не в бойовому положенні"),
        "damaged": ("Damaged", "Пошкоджений"),
        "unknown": ("Unknown", "Невідомо"),
    }),
    "disposal_method": (DisposalMethod, {
        "destroyed_in_situ": ("Destroyed in place", "Знищено на місці"),
        "moved_and_destroyed": ("Moved and destroyed", "Переміщено та знищено"),
        "rendered_safe": ("Rendered safe", "Знешкоджено"),
        "handed_to_authority": ("Handed to the authorities", "Передано уповноваженому органу"),
    }),
}


def label_codes(codes: type[StrEnum]) -> dict[str, str]:
    """Every label (both languages, compared case-blind) of a vocabulary's codes -> code."""
    out: dict[str, str] = {}
    for vocabulary, labels in CHOICES.values():
        if vocabulary is not codes:
            continue
        for code, names in labels.items():
            for name in names:
                out[" ".join(name.split()).casefold()] = code
    return out
