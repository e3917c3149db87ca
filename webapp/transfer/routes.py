"""Exports (streamed ZIP downloads) and imports (an upload that starts a
background job, then its page, which follows the job to its report)."""

from __future__ import annotations

import uuid

from flask import redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from webapp import exports, imports
from webapp.error_pages import render_error, status_of
from webapp.errors import InvalidInput
from webapp.extensions import db, limiter
from webapp.htmx import is_htmx
from webapp.inputs import accepts_upload
from webapp.transfer import bp
from webapp.transfer.forms import ImportForm

JOBS_LISTED = 10


# --- export -------------------------------------------------------------------------------------


@bp.get("/settings/export")
def export_account():
    """Everything of the signed-in user's, but the trash, as one ZIP."""
    return exports.zip_download(current_user)


@bp.get("/c/export.zip")
def export_chosen():
    """The chosen threads (``ids``, repeated) of the signed-in user's as one ZIP;
    other people's ids, malformed ones and threads in the trash are left out."""
    chosen = [parsed for parsed in map(_uuid, request.args.getlist("ids")) if parsed is not None]
    if not chosen:
        return render_error(422, "Choose the chats to export.", "Nothing chosen")
    return exports.zip_download(current_user, chosen, filename=exports.chosen_filename(current_user))


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


# --- import ---------------------------------------------------------------------------------------


def render_import(form: ImportForm | None = None, status: int = 200, error: str | None = None):
    return render_template(
        "transfer/import.html",
        form=form or ImportForm(formdata=None),
        error=error,
        accepted=imports.ACCEPTED,
        jobs=[imports.report(job) for job in imports.list_jobs(current_user, JOBS_LISTED)],
    ), status


@bp.get("/import")
def import_page():
    return render_import()


@bp.post("/import")
@accepts_upload("PARLEY_IMPORT_MAX_MB")
@limiter.limit("30 per hour")
def start_import():
    form = ImportForm()
    if not form.validate_on_submit():
        return render_import(form, 422)
    try:
        job = imports.create_job(current_user, form.file.data)
    except InvalidInput as refused:
        db.session.rollback()
        form.file.errors = [refused.message]
        return render_import(form, status_of(refused))
    db.session.commit()
    imports.start(job.id)
    return redirect(url_for(".import_job", job_id=job.id), 303)


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error: RequestEntityTooLarge):
    """Refused before the body was read further (``PARLEY_IMPORT_MAX_MB``)."""
    if request.endpoint != "transfer.start_import":
        return render_error(413)
    return render_import(status=413, error=error.description)


@bp.get("/import/<uuid:job_id>")
def import_job(job_id: uuid.UUID):
    """The job's progress; once it ends, its report. The htmx request that
    follows a running job gets the part that changes."""
    report = imports.report(imports.get_job(current_user, job_id))
    if is_htmx():
        return render_template("transfer/_job.html", report=report)
    return render_template("transfer/job.html", report=report)
