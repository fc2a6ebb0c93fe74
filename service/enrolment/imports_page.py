"""The console's members import (/console/imports): upload a CSV, check it first (a dry run
reports every bad row and writes nothing), then import it and watch the progress.

The page script (static/imports.js) sends the file as the raw request body to
POST /api/v1/programs/{id}/imports[?dry_run=true] (the API takes text/csv, not multipart) and
polls GET /api/v1/imports/{id} until the job is done or failed. The recent imports are rendered
from the models. Needs the "members" permission, as the API does.
"""

from __future__ import annotations

from flask import Blueprint, Response, g
from sqlalchemy import select

from service.console import sections, words
from service.console.guard import render, signed_in
from service.enrolment.imports import COLUMNS
from service.enrolment.settings_page import brand_programs, chosen_program
from service.models import ImportJob, Program
from service.platform import db

bp = Blueprint("imports_page", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/enrolment-console")
sections.add(sections.Section("imports_page.index", "nav_imports", "members", 62, "/console/imports"))

words.add({
    "nav_imports": ("Import", "Импорт"),
    "imports_title": ("Import members", "Импорт участников"),
    "imports_intro": ("A CSV file (UTF-8, comma-separated) whose first line names its columns. Each row needs a "
                      "name and an external_id, e-mail, phone or card_number (the number of the member's "
                      "plastic card, which the card keeps). Importing the same file again adds nobody twice. "
                      "The columns, any of: ",
                      "Файл CSV (UTF-8, через запятую), первая строка называет столбцы. В каждой строке нужны имя "
                      "и external_id, почта, телефон или card_number (номер пластиковой карты участника, "
                      "карта его сохранит). Повторный импорт того же файла никого не добавит дважды. "
                      "Столбцы, любые из: "),
    "imports_program": ("Into the program", "В программу"),
    "imports_file": ("CSV file", "Файл CSV"),
    "imports_dry_run": ("Only check the file (a dry run: nothing is written)",
                        "Только проверить файл (пробный прогон: ничего не записывается)"),
    "imports_start": ("Send the file", "Отправить файл"),
    "imports_progress": ("Progress", "Ход импорта"),
    "imports_rows": ("{done} of {total} rows", "{done} из {total} строк"),
    "imports_result": ("Imported. New members: {created}; already known: {matched}; bad rows: {bad}.",
                       "Импорт завершён. Новых участников: {created}; уже известных: {matched}; "
                       "строк с ошибками: {bad}."),
    "imports_result_dry": ("Checked, nothing was written. Would be new: {created}; already known: {matched}; "
                           "bad rows: {bad}.",
                           "Проверено, ничего не записано. Новых было бы: {created}; уже известных: {matched}; "
                           "строк с ошибками: {bad}."),
    "imports_errors": ("Rows with errors", "Строки с ошибками"),
    "imports_line": ("Line", "Строка"),
    "imports_field": ("Column", "Столбец"),
    "imports_message": ("What is wrong", "Что не так"),
    "imports_recent": ("Recent imports", "Последние импорты"),
    "imports_when": ("When", "Когда"),
    "imports_kind": ("Kind", "Вид"),
    "imports_kind_dry": ("check", "проверка"),
    "imports_kind_real": ("import", "импорт"),
    "imports_state": ("State", "Состояние"),
    "imports_created": ("New", "Новых"),
    "imports_matched": ("Known", "Известных"),
    "imports_bad": ("Bad rows", "С ошибками"),
    "imports_status_queued": ("queued", "в очереди"),
    "imports_status_running": ("running", "идёт"),
    "imports_status_done": ("done", "готово"),
    "imports_status_failed": ("failed", "не удалось"),
    "imports_failed": ("The file could not be imported:", "Файл не удалось импортировать:"),
})

#: The words the page script shows (handed to it as JSON in the page).
SCRIPT_KEYS = ("imports_rows", "imports_result", "imports_result_dry", "imports_failed", "imports_status_queued",
               "imports_status_running", "imports_status_done", "imports_status_failed")


@bp.get("/console/imports")
@signed_in("members")
def index() -> Response:
    programs = brand_programs()
    program = chosen_program(programs)
    brand_id = g.console_session.account.brand_id
    recent = db.session().execute(
        select(ImportJob.id, ImportJob.program_id, ImportJob.status, ImportJob.dry_run, ImportJob.total_rows,
               ImportJob.created_cards, ImportJob.matched_cards, ImportJob.error_rows, ImportJob.created_at,
               Program.name).join(Program, Program.id == ImportJob.program_id)
        .where(ImportJob.brand_id == brand_id).order_by(ImportJob.id.desc()).limit(20)).all()
    return render("enrolment_console/imports.html", programs=programs, program=program, recent=recent,
                  columns=",".join(COLUMNS), page_words=SCRIPT_KEYS)
