"""The public join page, /join/<program>: a short form, then the card with wallet buttons.

<program> is the program's slug (Program.slug) or its id. No login: the form is protected by a
signed double-submit CSRF token (forms.py) and validated here; errors come back on the page
(422) in the customer's language. A new contact gets its card at once: the browser is
redirected (303) to the card's own page, /join/<program>/card/<serial>?key=<download key>, so
a reload never posts twice and the link can be bookmarked. A phone or email that already has
a card never gets it by typing it (anyone can type someone's email): the browser goes to
/join/<program>/check/<handle>, which shows no card data, and a one-time link and code are
sent to that contact (recovery.py); the link (/recover/<token>) or the code opens the card
page. Never a second card for one contact. Plain HTML + CSS, no script.

Also here: the counter poster (/join/<program>/poster.png|.pdf), the logo the page shows,
a stylesheet with the program's colours, and the `flask import-members` command.
"""

from __future__ import annotations

import dataclasses
import hmac
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from service import notify
from service.design.card_design import program_files
from service.enrolment import forms, join_settings, poster, poster_cache, recovery
from service.enrolment.contact import normalise_phone
from service.enrolment.i18n import Words, choose_language
from service.enrolment.recovery_tasks import send_card_recovery
from service.loyalty import referrals
from service.loyalty import terms as program_terms
from service.loyalty.cards import apple_pass_url, display_number, download_key, find_existing, issue_card
from service.loyalty.engine import balance_money, effective_discount
from service.models import Brand, Card, Program, utcnow
from service.platform import db
from service.web import rate_limits
from service.web.client_address import client_address
from service.web.page_headers import secure_page
from service.webhooks import events as webhooks

bp = Blueprint("join", __name__, cli_group=None, template_folder="templates")

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_APPLE_UA = re.compile(r"iPhone|iPad|iPod", re.IGNORECASE)
_ANDROID_UA = re.compile(r"Android", re.IGNORECASE)


def find_program(ref: str) -> Program:
    """By slug, or by id when `ref` is all digits (a slug is never all digits)."""
    session = db.session()
    program = (session.get(Program, int(ref)) if ref.isdigit() and len(ref) < 10
               else session.scalar(select(Program).where(Program.slug == ref)))
    if program is None:
        abort(404)
    return program


def program_ref(program: Program) -> str:
    return program.slug or str(program.id)


def join_url(program: Program, public_base_url: str, ref: str | None = None) -> str:
    """The public join link (with a referral code: that card's personal link)."""
    url = f"{public_base_url.rstrip('/')}/join/{program_ref(program)}"
    return f"{url}?ref={ref}" if ref else url


def device(user_agent: str) -> str | None:
    """apple | google | None (a computer or unknown phone: show both buttons)."""
    if _APPLE_UA.search(user_agent):
        return "apple"
    if _ANDROID_UA.search(user_agent):
        return "google"
    return None


def _secure(response: Response) -> Response:
    """No script at all on the join pages; the card page's links stay on our origin."""
    return secure_page(response, referrer="same-origin", default_src="'none'", style_src="'self'",
                       form_action="'self'")


def _settings() -> Any:
    return current_app.config["PASSCAST"]


def _page(template: str, status: int, program: Program, words: Words, **context: Any) -> Response:
    brand = program.brand
    response = Response(render_template(template, program=program, brand=brand, words=words,
                                        ref=program_ref(program), **context), status=status,
                        mimetype="text/html")
    response.headers["Content-Language"] = words.language
    response.headers["Vary"] = "Accept-Language, User-Agent"
    response.headers["Cache-Control"] = "no-store"
    return _secure(response)


def _form_page(program: Program, words: Words, form: forms.JoinForm | None, status: int = 200) -> Response:
    session = db.session()
    form = form or forms.JoinForm(values={"ref": request.args.get("ref", "")})
    referrer = referrals.referrer_for(session, program, form.values.get("ref"))
    return _page_with_form("join/join.html", status, program, words, form=form,
                           referred=referrer is not None and (program.referral_points or 0) > 0,
                           asked=join_settings.fields_of(program),
                           consent=join_settings.consent_of(program, words.language),
                           terms=program_terms.terms(program, words.language))


def _page_with_form(template: str, status: int, program: Program, words: Words, **context: Any) -> Response:
    """A page whose form posts back: a CSRF token in the page, its nonce in the cookie (forms.py)."""
    token, nonce = forms.new_token(program.brand, program, request.cookies.get(forms.COOKIE))
    response = _page(template, status, program, words, token=token, **context)
    response.set_cookie(forms.COOKIE, nonce, max_age=forms.TOKEN_MAX_AGE, httponly=True, samesite="Lax",
                        secure=_settings().public_base_url.startswith("https://"), path="/join")
    return response


def _token_ok(program: Program) -> bool:
    return forms.token_ok(program.brand, program, request.form.get("csrf_token"), request.cookies.get(forms.COOKIE))


@bp.get("/join/<ref>")
def join_form(ref: str) -> Response:
    program = find_program(ref)
    return _form_page(program, Words(choose_language(request)), None)


@bp.post("/join/<ref>")
def join_submit(ref: str) -> Response:
    session = db.session()
    program = find_program(ref)
    words = Words(request.form.get("lang") or choose_language(request))
    brand = program.brand
    if not forms.token_ok(brand, program, request.form.get("csrf_token"), request.cookies.get(forms.COOKIE)):
        form = forms.read_form(request.form, words.language, utcnow().date(), join_settings.fields_of(program))
        form.errors = {"form": "error_token", **form.errors}
        return _form_page(program, words, form, status=400)
    form = forms.read_form(request.form, words.language, utcnow().date(), join_settings.fields_of(program))
    if form.details is None:
        return _form_page(program, words, form, status=422)
    # Not a RateLimited problem: the page answers a refusal in the visitor's language, the form kept.
    verdict = rate_limits.spend(_settings().join_rate_limit, "join", client_address())
    if not verdict.allowed:
        form.errors = {"form": "error_rate", **form.errors}
        response = _form_page(program, words, form, status=429)
        response.headers["Retry-After"] = str(verdict.retry_after)
        return response
    existing = _existing_card(program, form)
    if existing is not None:
        return _start_recovery(program, words, *existing)
    card, _created = issue_card(session, program, form.details)
    referrer = referrals.referrer_for(session, program, form.ref)
    if referrer is not None:
        card.referred_by_id = referrer.id
    webhooks.emit(session, program.brand_id, "card.issued", webhooks.card_data(card))
    join_settings.give_welcome_bonus(session, card)
    session.commit()
    return _to_card(program, card, words, new=True)


def _to_card(program: Program, card: Card, words: Words, *, new: bool) -> Response:
    target = url_for("join.card_page", ref=program_ref(program), serial=card.serial_number,
                     key=download_key(card, program.brand), lang=words.language, new="1" if new else "0")
    return redirect(target, code=303)


def _existing_card(program: Program, form: forms.JoinForm) -> tuple[Card, str, str] | None:
    """(card, channel, stored contact) when the typed email or phone already has a card.

    Also finds a card issued elsewhere (the API) with the phone spelled as typed ("+31 6 1234
    5678"): the form stores phones without spaces. The message goes to the contact as stored."""
    details = form.details
    if details is None:
        return None
    session = db.session()
    card = find_existing(session, program, details)
    typed_phone = form.values.get("phone")
    if card is None and typed_phone and typed_phone != details.phone:
        card = find_existing(session, program, dataclasses.replace(details, email=None, phone=typed_phone))
    if card is None:
        return None
    customer = card.customer
    if details.email and customer.email == details.email:
        return card, "email", customer.email
    try:  # a gateway wants "+31612345678", whatever spelling the API stored
        return card, "sms", normalise_phone(customer.phone or "")
    except ValueError:
        return card, "sms", customer.phone or ""


def _start_recovery(program: Program, words: Words, card: Card, channel: str, destination: str) -> Response:
    """No card data for whoever typed a known contact: a link and code go to that contact."""
    session = db.session()
    row, send = recovery.start(session, card, channel, destination, words.language)
    session.commit()
    if send:
        send_card_recovery(row.id)
    target = url_for("join.check_page", ref=program_ref(program), handle=recovery.check_handle(program.brand, row),
                     lang=words.language)
    return redirect(target, code=303)


def _recovery_of(program: Program, handle: str) -> Any:
    row = recovery.from_check_handle(db.session(), program.brand, handle)
    if row is None or row.card.program_id != program.id:
        abort(404)
    return row


def _check_page(program: Program, words: Words, row: Any, status: int = 200, error: str | None = None) -> Response:
    settings = _settings()
    dev_setting = None if notify.configured(settings, row.channel) else (
        "SMTP_HOST" if row.channel == "email" else "SMS_GATEWAY_URL")
    return _page_with_form("join/join_check.html", status, program, words, error=error, dev_setting=dev_setting,
                           minutes=int(recovery.LIFETIME.total_seconds() // 60))


@bp.get("/join/<ref>/check/<handle>")
def check_page(ref: str, handle: str) -> Response:
    """"Check your messages", and a box for the code; nothing here tells whose card it is."""
    program = find_program(ref)
    return _check_page(program, Words(choose_language(request)), _recovery_of(program, handle))


@bp.post("/join/<ref>/check/<handle>")
def check_code(ref: str, handle: str) -> Response:
    program = find_program(ref)
    words = Words(request.form.get("lang") or choose_language(request))
    row = _recovery_of(program, handle)
    if not _token_ok(program):
        return _check_page(program, words, row, status=400, error=words("error_token"))
    verdict = rate_limits.spend(_settings().join_rate_limit, "join", client_address())
    if not verdict.allowed:
        response = _check_page(program, words, row, status=429, error=words("error_rate"))
        response.headers["Retry-After"] = str(verdict.retry_after)
        return response
    outcome = recovery.redeem_code(db.session(), program.brand, row, request.form.get("code", "")[:20])
    if outcome.card is not None:
        return _to_card(program, outcome.card, words, new=False)
    if outcome.locked:
        return _check_page(program, words, row, status=410, error=words("error_code_locked"))
    return _check_page(program, words, row, status=422, error=words("error_code", tries=outcome.tries_left))


@bp.get("/join/<ref>/recover/<token>")
def link_page(ref: str, token: str) -> Response:
    """The link from the message: a button, not the card itself, because mail scanners and link
    previews open links too and would use it up before the customer does."""
    program = find_program(ref)
    words = Words(choose_language(request))
    row = recovery.link_recovery(db.session(), program.brand, token)
    usable = row is not None and row.card.program_id == program.id
    return _page_with_form("join/join_link.html", 200 if usable else 410, program, words, usable=usable)


@bp.post("/join/<ref>/recover/<token>")
def link_redeem(ref: str, token: str) -> Response:
    program = find_program(ref)
    words = Words(request.form.get("lang") or choose_language(request))
    if not _token_ok(program):
        return _page_with_form("join/join_link.html", 400, program, words, usable=True, error=words("error_token"))
    row = recovery.link_recovery(db.session(), program.brand, token)
    card = (recovery.redeem_link(db.session(), program.brand, token)
            if row is not None and row.card.program_id == program.id else None)
    if card is None:
        return _page_with_form("join/join_link.html", 410, program, words, usable=False)
    return _to_card(program, card, words, new=False)


def _own_card(program: Program, serial: str) -> Card:
    card = db.session().scalar(select(Card).where(Card.serial_number == serial))
    key = request.args.get("key", "")
    expected = download_key(card, program.brand) if card is not None else "x" * 32
    if card is None or card.program_id != program.id or not hmac.compare_digest(key, expected):
        abort(404)
    return card


@bp.get("/join/<ref>/card/<serial>")
def card_page(ref: str, serial: str) -> Response:
    from service.google_wallet.sync import card_google_view

    session = db.session()
    program = find_program(ref)
    card = _own_card(program, serial)
    settings = _settings()
    words = Words(choose_language(request))
    google = card_google_view(session, settings, card, ensure=True)
    invite = None
    if (program.referral_points or 0) > 0 and not card.voided:
        invite = join_url(program, settings.public_base_url, referrals.code_for(session, card))
    session.commit()
    return _page("join/join_card.html", 200, program, words, card=card, created=request.args.get("new") == "1",
                 number=display_number(card), apple_url=apple_pass_url(card, program.brand, settings.public_base_url),
                 google_url=google.get("save_url"), device=device(request.user_agent.string or ""),
                 invite=invite, balance_money=balance_money(card), discount=_percent(effective_discount(card)))


def _percent(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


@bp.get("/join/<ref>/theme.css")
def theme(ref: str) -> Response:
    """The program's colours as CSS variables (a file, so the page's CSP needs no inline style)."""
    program = find_program(ref)
    colours = {"--brand-bg": program.background_color, "--brand-fg": program.foreground_color,
               "--brand-label": program.label_color}
    body = ":root{" + "".join(f"{name}:{value};" for name, value in colours.items()
                              if value and _COLOUR.match(value)) + "}\n"
    response = Response(body, mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _logo_png(program: Program) -> bytes:
    files = program_files(program)
    return files["logo@3x.png"] if program.logo_png else files["icon@3x.png"]


@bp.get("/join/<ref>/logo.png")
def logo(ref: str) -> Response:
    response = Response(_logo_png(find_program(ref)), mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/join/<ref>/poster.<any(png, pdf):kind>")
def poster_file(ref: str, kind: str) -> Response:
    """The counter poster: logo, name and the join link as a QR code (A4)."""
    program = find_program(ref)
    brand: Brand = program.brand
    words = Words(choose_language(request))
    settings = _settings()
    inputs = {"brand_name": brand.name, "program_name": program.name,
              "url": join_url(program, settings.public_base_url), "logo_png": _logo_png(program),
              "background": program.background_color, "foreground": program.foreground_color}
    title = f"{brand.name}: {words('poster_heading')}"

    def draw() -> bytes:
        image = poster.render(**inputs, words=words)
        return poster.to_pdf(image, title) if kind == "pdf" else poster.to_png(image)

    version = poster_cache.version(poster.VERSION, kind, title, words.language, *inputs.values())
    data = poster_cache.get_or_make(settings.instance_dir / "posters", version, kind, draw)
    response = Response(data, mimetype="application/pdf" if kind == "pdf" else "image/png")
    response.headers["Content-Disposition"] = f'inline; filename="{program_ref(program)}-poster.{kind}"'
    response.headers["Cache-Control"] = "no-cache"
    response.set_etag(version)
    return response.make_conditional(request)


# --- flask --app wsgi import-members -----------------------------------------------------------


@bp.cli.command("import-members")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--program", "program_ref_", default=None,
              help="Program id or slug (default: the only program, if there is exactly one).")
@click.option("--dry-run", is_flag=True, help="Only check the file: report every bad row, write nothing.")
@click.option("--batch", type=click.IntRange(1, 20000), default=1000, show_default=True,
              help="Rows per database transaction.")
def import_members_command(csv_file: Path, program_ref_: str | None, dry_run: bool, batch: int) -> None:
    """Import members from CSV_FILE (columns: name,email,phone,birthday,balance,tier,joined_at,external_id).

    Safe to run again: existing members are matched (external_id, then email, then phone) and each
    opening balance is added once. Exit status 1 when any row was bad.
    """
    from service.enrolment.imports import ImportFileError, check_header, import_members

    session = db.session()
    if program_ref_ is None:
        programs = session.scalars(select(Program).limit(2)).all()
        if len(programs) != 1:
            raise click.ClickException("there is not exactly one program: name it with --program")
        program = programs[0]
    else:
        program = (session.get(Program, int(program_ref_)) if program_ref_.isdigit()
                   else session.scalar(select(Program).where(Program.slug == program_ref_)))
        if program is None:
            raise click.ClickException(f"no program {program_ref_}")
    data = csv_file.read_bytes()
    try:
        total = check_header(data)
    except ImportFileError as error:
        raise click.ClickException(str(error)) from None
    label = f"{'checking' if dry_run else 'importing'} {csv_file.name} into {program.name}"
    with click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True) as bar:
        done = 0

        def progress(rows: int, _report: object) -> None:
            nonlocal done
            bar.update(rows - done)
            done = rows

        report = import_members(session, program, data, dry_run=dry_run, batch=batch, progress=progress)
    for error in report.errors:
        click.echo(str(error))
    if report.error_rows > len(report.errors):
        click.echo(f"... and {report.error_rows - len(report.errors)} more bad rows")
    verb = "would create" if dry_run else "created"
    click.echo(f"{report.rows} rows: {report.valid_rows} valid, {report.error_rows} bad; {verb} {report.created} "
               f"cards, matched {report.matched} existing; {report.balances_added} opening balances added"
               + (" (dry run: nothing written)" if dry_run else ""))
    if report.error_rows:
        sys.exit(1)
