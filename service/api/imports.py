"""Member imports: POST a CSV, a job imports it; GET the job for progress and bad rows."""

from __future__ import annotations

from typing import Any

from flask import g, request, url_for
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.brand_schemas import PROBLEM, ProblemOut
from service.api.cards import brand_program
from service.api.tenancy import brand_row
from service.enrolment.import_tasks import run_import
from service.enrolment.imports import COLUMNS, ImportFileError, check_header
from service.models import ImportJob
from service.platform import db
from service.web.problems import Problem, validation_problem

blp = Blueprint("imports", __name__, url_prefix="/api/v1",
                description="Members moving in from another platform (CSV imports)")

_CSV_EXAMPLE = ("name,email,phone,birthday,balance,tier,joined_at,external_id,card_number\n"
                "Anna Smith,anna@example.com,+31612345678,1990-04-01,250,Gold,2023-05-02,old-1001,4006381333931\n")


class ImportQuery(Schema):
    dry_run = fields.Boolean(load_default=False, metadata={
        "description": "Only check the file: every bad row is reported, nothing is written"})


class RowErrorOut(Schema):
    line = fields.Integer(metadata={"description": "Line in the file (the header is line 1)"})
    field = fields.String()
    message = fields.String()


class ImportJobOut(Schema):
    id = fields.Integer()
    program_id = fields.Integer()
    status = fields.String(metadata={"description": "queued | running | done | failed"})
    dry_run = fields.Boolean()
    total_rows = fields.Integer()
    processed_rows = fields.Integer()
    progress = fields.Float(metadata={"description": "processed_rows / total_rows, 0..1"})
    created_cards = fields.Integer(metadata={"description": "New members (dry run: would be created)"})
    matched_cards = fields.Integer(metadata={"description": "Rows that found an existing card"})
    error_rows = fields.Integer()
    errors = fields.List(fields.Nested(RowErrorOut), metadata={"description": "The first 1000 bad rows"})
    failure = fields.String(allow_none=True, metadata={"description": "Why the whole file failed"})
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


def job_view(job: ImportJob) -> dict[str, Any]:
    total = job.total_rows or 0
    return {**{name: getattr(job, name) for name in (
        "id", "program_id", "status", "dry_run", "total_rows", "processed_rows", "created_cards",
        "matched_cards", "error_rows", "errors", "failure", "created_at", "started_at", "finished_at")},
        "progress": round(job.processed_rows / total, 4) if total else (1.0 if job.status == "done" else 0.0)}


@blp.route("/programs/<int:program_id>/imports", methods=["POST"])
@require_brand
@requires("members")
@blp.arguments(ImportQuery, location="query")
@blp.response(202, ImportJobOut, description="Queued; follow the Location header for progress")
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
@blp.alt_response(422, schema=ProblemOut, content_type=PROBLEM,
                  description="The file cannot be imported at all (encoding, header)")
@blp.doc(requestBody={"required": True, "content": {"text/csv": {
    "schema": {"type": "string"}, "example": _CSV_EXAMPLE}},
    "description": f"UTF-8 CSV with a header naming some of: {','.join(COLUMNS)}"})
def create_import(query: dict[str, Any], program_id: int) -> Any:
    """Import members from a CSV (the request body); runs as a job.

    Re-running the same file is safe: rows find their card by external_id, card_number, email, then
    phone, and each opening balance is one `import` ledger entry per external row. `card_number` is
    the member's plastic card number, which the card keeps (checked against the program's
    barcode_format; docs/brands/existing-cards.md)."""
    program = brand_program(program_id)
    # The size is bounded app-wide (IMPORT_LIMIT_BYTES, service/web/request_guard.py).
    if request.mimetype == "multipart/form-data" or request.is_json:
        raise Problem(415, "Unsupported Media Type", "Send the CSV itself as the request body, with "
                      f"Content-Type: text/csv, not {request.mimetype}.", type_="/problems/raw-body")
    data = request.get_data(cache=False)
    if not data.strip():
        raise validation_problem([{"field": "body", "message": "Send the CSV as the request body."}])
    try:
        total = check_header(data)
    except ImportFileError as error:
        raise validation_problem([{"field": "body", "message": str(error)}]) from None
    except Exception as error:  # the csv module's own errors (e.g. a NUL byte)
        raise validation_problem([{"field": "body", "message": f"unreadable CSV: {error}"}]) from None
    session = db.session()
    job = ImportJob(brand_id=g.brand.id, program_id=program.id, dry_run=query["dry_run"], csv_data=data,
                    total_rows=total, errors=[])
    session.add(job)
    session.commit()
    run_import(job.id)
    session.refresh(job)
    return job_view(job), 202, {"Location": url_for("imports.get_import", job_id=job.id)}


@blp.route("/imports/<int:job_id>", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, ImportJobOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such import in your brand")
def get_import(job_id: int) -> Any:
    """An import's progress, figures and bad rows."""
    return job_view(brand_row(ImportJob, job_id, "import", populate_existing=True))
