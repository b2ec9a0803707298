"""Review pages for coordinators: the submissions, and one submission's report on a map
and as a table, with Approve and Reject (form posts with a CSRF token).

Server-rendered, no build step, offline (the map is maps/review.py). Pages sign in with
the session cookie like the overview map; the cookie only reads, so the two form posts
check the CSRF token and the Origin first (api.deps.check_form), then read the cookie.
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any
from uuid import UUID

from branca.element import Element, Figure
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import (
    CSRF_FIELD,
    SESSION_COOKIE,
    AppSettings,
    Conn,
    check_form,
    csrf_token,
    keep_csrf_token,
    page_reader,
    to_login,
)
from maps.common import page_html
from maps.review import review_map
from survey import auth
from survey.auth import Principal
from survey.domain.models import Submission
from survey.domain.vocab import Role, SubmissionStatus
from survey.errors import (
    DemineError,
    Forbidden,
    InvalidInput,
    LedgerConflict,
    NotFound,
    Unauthorized,
)
from survey.intake import submission as intake

router = APIRouter(include_in_schema=False)

# issues listed in the page's table (all of them are in the JSON report and the CSV)
TABLE_ISSUES = 2_000

STYLE = """<style>
html body{height:auto;min-height:100%;display:flex;flex-direction:column;margin:0;
 font:14px/1.45 system-ui,sans-serif;background:#fff}
#review-top{order:0;padding:.8rem 1.2rem}#review-top h1{font-size:1.3rem;margin:.2rem 0}
.folium-map{order:1}#review-bottom{order:2;padding:.8rem 1.2rem 2rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.25rem .5rem;
 text-align:left;vertical-align:top}th{background:#f3f3f3}
tr.error td.severity{color:#b00;font-weight:600}tr.warning td.severity{color:#a65f00}
.status{font-weight:600}.notice{padding:.5rem .8rem;border-radius:4px;margin:.5rem 0}
.notice.error{background:#fde8e8;color:#8a0000}.notice.ok{background:#e7f5e9;color:#1b5e20}
form.decide{display:inline-block;margin-right:1rem}button{font:inherit;padding:.3rem 1rem}
input[name=reason]{font:inherit;padding:.25rem;width:18rem}nav a{margin-right:1rem}
</style>"""

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} — demine</title>
{style}</head><body><div id="review-top">{body}</div></body></html>"""

NAV = ("<nav><a href='/submissions'>Submissions</a><a href='/maps/overview'>Map</a>"
       "<a href='/logout'>Sign out</a></nav>")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=escape(title), style=STYLE, body=NAV + body),
                        status_code=status)


def _can_decide(principal: Principal, sub: Submission) -> bool:
    return principal.role == Role.ADMIN or (principal.role == Role.COORDINATOR
                                            and principal.programme_id == sub.programme_id)


def _counts(sub: Submission) -> str:
    c = sub.report.get("counts", {})
    return (f"{c.get('staged', 0):,} record(s), {c.get('errors', 0):,} error(s), "
            f"{c.get('warnings', 0):,} warning(s)")


@router.get("/submissions")
def read_submissions_page(request: Request, conn: Conn, settings: AppSettings) -> Response:
    """The submissions the signed-in user may see, with status and counts."""
    principal = page_reader(request, conn)
    if principal is None:
        return to_login(request)
    try:
        found = intake.list_submissions(conn, principal=principal, limit=500)
    except Forbidden as exc:
        return _page("Submissions", f"<p class='notice error'>{escape(exc.message)}</p>", 403)
    rows = "".join(
        f"<tr><td><a href='/submissions/{s.id}'>{escape(s.source_file)}</a></td>"
        f"<td>{escape(s.kind or '')}</td><td>{escape(s.format.value)}</td>"
        f"<td class='status'>{escape(s.status.value)}</td><td>{escape(_counts(s))}</td>"
        f"<td>{s.submitted_at:%Y-%m-%d %H:%M}</td></tr>" for s in found)
    table = ("<table id='submissions'><tr><th>File</th><th>Records</th><th>Format</th>"
             f"<th>Status</th><th>Counts</th><th>Submitted</th></tr>{rows}</table>"
             if found else "<p>No submissions yet.</p>")
    return _page("Submissions", f"<h1>Submissions</h1>{table}")


def _issue_rows(issues: list[dict[str, Any]]) -> str:
    layers = any(issue.get("layer") for issue in issues)  # a column only when there are
    rows = []
    for issue in issues[:TABLE_ISSUES]:
        severity = issue.get("severity", "error")
        layer = f"<td>{escape(str(issue.get('layer') or ''))}</td>" if layers else ""
        rows.append(
            f"<tr class='{escape(severity)}'><td>{'' if issue.get('row') is None else issue['row']}"
            f"</td>{layer}<td>{escape(str(issue.get('field') or ''))}</td>"
            f"<td class='severity'>{escape(severity)}</td>"
            f"<td>{escape(str(issue.get('message', '')))}</td></tr>")
    more = (f"<p>{len(issues) - TABLE_ISSUES:,} more issue(s): see the JSON report or the CSV."
            "</p>" if len(issues) > TABLE_ISSUES else "")
    return (f"<table id='issues'><tr><th>Row</th>{'<th>Layer</th>' if layers else ''}"
            f"<th>Field</th><th>Severity</th><th>Issue</th></tr>{''.join(rows)}</table>{more}")


def _totals(sub: Submission) -> str:
    totals = sub.report.get("totals") or {}
    if not totals:
        return ""
    def number(value: Any) -> str:
        return "" if value is None else f"{value:,.2f}"

    rows = "".join(f"<tr><td>{escape(kind)}</td><td>{t.get('count', 0):,}</td>"
                   f"<td>{number(t.get('area_m2'))}</td><td>{number(t.get('length_m'))}</td>"
                   "</tr>" for kind, t in totals.items())
    return ("<table id='totals'><tr><th>Records</th><th>Count</th><th>Area m² (geodesic)</th>"
            f"<th>Length m</th></tr>{rows}</table>")


NOTICES = {"approved": ("ok", "Approved: every record was written."),
           "rejected": ("ok", "Rejected: the reason is kept with the submission.")}


def _detail(request: Request, conn: Any, settings: Any, principal: Principal,
            sub: Submission, notice: tuple[str, str] | None = None,
            status: int = 200) -> HTMLResponse:
    features, pinned, total = intake.review_layers(conn, submission=sub)
    fmap = review_map(features, pinned, basemap_url=settings.basemap_url,
                      title=f"Submission {sub.source_file}")
    token = csrf_token(request)
    report = sub.report
    crs = f"EPSG:{report['epsg']}" if report.get("epsg") else (report.get("crs") or "?")
    shown = len(features["features"])
    capped = (f" (the map shows {shown:,} of {total:,} features, those with issues first)"
              if shown < total else "")
    top = [f"<h1>{escape(sub.source_file)}</h1>",
           f"<p>Status: <span class='status' id='status'>{escape(sub.status.value)}</span> · "
           f"{escape(sub.kind or '')} · {escape(sub.format.value)} · source CRS "
           f"{escape(str(crs))} · {escape(_counts(sub))}{escape(capped)}</p>"]
    if notice:
        top.append(f"<p class='notice {notice[0]}' id='notice'>{escape(notice[1])}</p>")
    if sub.decision_reason:
        top.append(f"<p>Decision: {escape(sub.decision_reason)}</p>")
    refused = report.get("approval_refused")
    if refused and sub.status == SubmissionStatus.VALIDATED:
        top.append("<p class='notice error'>An approval was refused; nothing was written: "
                   + escape("; ".join(f"row {r.get('row')}: {r.get('message')}"
                                      for r in refused.get("rows", [])[:5])) + "</p>")
    if _can_decide(principal, sub) and sub.status == SubmissionStatus.VALIDATED:
        hidden = f"<input type='hidden' name='{CSRF_FIELD}' value='{escape(token)}'>"
        top.append(
            f"<form class='decide' method='post' action='/submissions/{sub.id}/approve'>"
            f"{hidden}<button type='submit' id='approve'>Approve</button></form>"
            f"<form class='decide' method='post' action='/submissions/{sub.id}/reject'>"
            f"{hidden}<input name='reason' required minlength='3' maxlength='2000' "
            "placeholder='why it is rejected'> <button type='submit' id='reject'>Reject"
            "</button></form>")
    top.append(f"<p><a href='/api/v1/submissions/{sub.id}/report.csv'>Rows with their issues "
               f"(CSV)</a> · <a href='/api/v1/submissions/{sub.id}'>Report (JSON)</a></p>")
    bottom = (f"{_totals(sub)}<h2>Issues ({len(sub.issues):,})</h2>{_issue_rows(sub.issues)}"
              if sub.issues else f"{_totals(sub)}<p id='no-issues'>No issues.</p>")
    root = fmap.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(Element(STYLE))
    root.html.add_child(Element(f"<div id='review-top'>{NAV}{''.join(top)}</div>"
                                f"<div id='review-bottom'>{bottom}</div>"))
    response = HTMLResponse(page_html(fmap), status_code=status)
    keep_csrf_token(request, response, token, settings)
    return response


@router.get("/submissions/{submission_id}")
def read_submission_page(submission_id: UUID, request: Request, conn: Conn,
                         settings: AppSettings, done: str | None = None) -> Response:
    """One submission: its report on a map and as a table; Approve and Reject for
    coordinators."""
    principal = page_reader(request, conn)
    if principal is None:
        return to_login(request)
    try:
        sub = intake.get_submission(conn, submission_id=submission_id, principal=principal)
    except DemineError as exc:
        return _page("Submission", f"<p class='notice error'>{escape(exc.message)}</p>",
                     404 if not isinstance(exc, Forbidden) else 403)
    return _detail(request, conn, settings, principal, sub, NOTICES.get(done or ""))


def _poster(request: Request, conn: Any, csrf: str | None) -> Principal | HTMLResponse:
    """The signed-in user behind a form post, once the form is known to be this site's."""
    try:
        check_form(request, csrf)
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            raise Unauthorized("sign in first")
        return auth.authenticate(conn, token=token)
    except Forbidden as exc:
        return _page("Not accepted", f"<h1>Not accepted</h1><p class='notice error'>"
                     f"{escape(exc.message)}</p>", 403)
    except Unauthorized:
        return _page("Not signed in", "<p class='notice error'>Sign in first: "
                     "<a href='/login'>sign in</a>.</p>", 401)


def _decided(request: Request, conn: Any, settings: Any, principal: Principal,
             submission_id: UUID, exc: DemineError) -> HTMLResponse:
    status = 403 if isinstance(exc, Forbidden) else 404 if isinstance(exc, NotFound) else (
        422 if isinstance(exc, InvalidInput) and not isinstance(exc, LedgerConflict) else 409)
    try:
        sub = intake.get_submission(conn, submission_id=submission_id, principal=principal)
    except DemineError:
        return _page("Submission", f"<p class='notice error'>{escape(exc.message)}</p>", status)
    return _detail(request, conn, settings, principal, sub, ("error", exc.message), status)


@router.post("/submissions/{submission_id}/approve")
def approve_submission_form(submission_id: UUID, request: Request, conn: Conn,
                            settings: AppSettings,
                            csrf: Annotated[str | None, Form(alias=CSRF_FIELD)] = None
                            ) -> Response:
    """Approve (form post, coordinators)."""
    principal = _poster(request, conn, csrf)
    if isinstance(principal, HTMLResponse):
        return principal
    try:
        outcome = intake.approve(conn, submission_id=submission_id, principal=principal)
        outcome.result()
    except DemineError as exc:
        # answered, not raised: the note of a refused approval is committed with the page
        return _decided(request, conn, settings, principal, submission_id, exc)
    return RedirectResponse(f"/submissions/{submission_id}?done=approved", status_code=303)


@router.post("/submissions/{submission_id}/reject")
def reject_submission_form(submission_id: UUID, request: Request, conn: Conn,
                           settings: AppSettings,
                           csrf: Annotated[str | None, Form(alias=CSRF_FIELD)] = None,
                           reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Reject with a reason (form post, coordinators)."""
    principal = _poster(request, conn, csrf)
    if isinstance(principal, HTMLResponse):
        return principal
    try:
        intake.reject(conn, submission_id=submission_id, principal=principal, reason=reason)
    except DemineError as exc:
        return _decided(request, conn, settings, principal, submission_id, exc)
    return RedirectResponse(f"/submissions/{submission_id}?done=rejected", status_code=303)
