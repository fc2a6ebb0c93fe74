"""The console's pages: sign-in (and the TOTP step), sign out (everywhere), invite acceptance,
password reset (a link from the owner, or by e-mail), two-factor enrolment and the team page.

Server-rendered forms, each with the session's CSRF token; the domain rules are in
service/access/accounts.py, which the API's console sessions share.
"""

from __future__ import annotations

import logging

import pyotp
from flask import Blueprint, Response, current_app, g, redirect, request, url_for
from sqlalchemy import delete, select

from service import audit
from service.access import accounts, recovery_codes, web_session
from service.access import team as team_rules
from service.access.roles import STORE_SCOPED
from service.console import sections
from service.console.guard import language, render, signed_in
from service.console.words import words_for
from service.models import StaffAccount, StaffSession, Store
from service.notify import mail
from service.platform import db
from service.web import rate_limits
from service.web.client_address import client_address

log = logging.getLogger(__name__)

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")
sections.add(sections.Section("console.team", "team", "accounts", 90, "/console/team"))
sections.add(sections.Section("console.security", "security", "read", 95, "/console/security"))


def _words() -> dict[str, str]:
    return words_for(language())


def _throttled() -> bool:
    """Spend the client address's sign-in budget; True once it is used up."""
    verdict = rate_limits.spend(current_app.config["PASSCAST"].console_sign_in_rate_limit, "console-sign-in",
                                client_address())
    return not verdict.allowed


def _refusal(error: accounts.AccessRefused) -> str:
    words = _words()
    if error.reason == "locked" and error.locked_until is not None:
        return words["locked"].format(until=f"{error.locked_until:%H:%M}")
    text = words.get(error.reason, words["wrong"])
    if error.attempts_left is not None and error.attempts_left < accounts.MAX_ATTEMPTS - 1:
        text += " " + words["attempts_left"].format(n=error.attempts_left)
    return text


def _next_path() -> str:
    target = request.values.get("next") or ""
    # only our own console paths: never an open redirect to another origin
    return target if target.startswith("/console/") and not target.startswith("//") else url_for("dashboard_page.page")


@bp.get("")
@bp.get("/")
def home() -> Response:
    return redirect(url_for("dashboard_page.page"))  # type: ignore[return-value]


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response:
    if request.method == "GET":
        return render("console/sign_in.html", next=request.args.get("next", ""))
    if _throttled():
        return render("console/sign_in.html", 429, error=_words()["too_many"], next=request.form.get("next", ""))
    session = db.session()
    try:
        account = accounts.check_password(session, request.form.get("email", ""), request.form.get("password", ""))
    except accounts.AccessRefused as error:
        status = 429 if error.reason == "locked" else 401
        return render("console/sign_in.html", status, error=_refusal(error), email=request.form.get("email", ""),
                      next=request.form.get("next", ""))
    if account.totp_enabled:
        pending = accounts.new_session(session, account, mfa_pending=True)
        response = redirect(url_for(".code", next=request.form.get("next", "")))
        return web_session.set_cookie(response, pending.token, mfa=True)  # type: ignore[arg-type]
    made = accounts.new_session(session, account)
    return web_session.set_cookie(redirect(_next_path()), made.token)  # type: ignore[arg-type]


@bp.route("/sign-in/code", methods=["GET", "POST"])
def code() -> Response:
    pending = web_session.pending_mfa()
    if pending is None:
        return redirect(url_for(".sign_in"))  # type: ignore[return-value]
    if request.method == "GET":
        return render("console/code.html", next=request.args.get("next", ""))
    if _throttled():
        return render("console/code.html", 429, error=_words()["too_many"])
    session = db.session()
    account = pending.account
    try:
        accounts.check_second_factor(session, account, request.form.get("code", ""))
    except accounts.AccessRefused as error:
        return render("console/code.html", 429 if error.reason == "locked" else 401, error=_refusal(error),
                      next=request.form.get("next", ""))
    accounts.end_session(session, pending)
    made = accounts.new_session(session, account)
    response = web_session.set_cookie(redirect(_next_path()), made.token)  # type: ignore[arg-type]
    response.delete_cookie(web_session.MFA_COOKIE, path="/")
    return response


@bp.post("/sign-out")
@signed_in()
def sign_out() -> Response:
    accounts.end_session(db.session(), g.console_session)
    return web_session.clear_cookies(redirect(url_for(".sign_in")))  # type: ignore[arg-type]


@bp.post("/sign-out-everywhere")
@signed_in()
def sign_out_everywhere() -> Response:
    accounts.end_every_session(db.session(), g.console_session.account_id)
    return web_session.clear_cookies(redirect(url_for(".sign_in")))  # type: ignore[arg-type]


# ---- invites and resets ---------------------------------------------------------------------


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invite(token: str) -> Response:
    session = db.session()
    link = accounts.link_for(session, token, "invite")
    if link is None:
        return render("console/message.html", 410, message=_words()["link_dead"])
    brand_name = _brand_name(link.brand_id)
    if request.method == "POST":
        if _throttled():
            return render("console/invite.html", 429, link=link, brand_name=brand_name, error=_words()["too_many"])
        try:
            accounts.accept_invite(session, token, request.form.get("password", ""))
        except accounts.AccessRefused as error:
            return render("console/invite.html", 422, link=link, brand_name=brand_name, error=_refusal(error))
        return render("console/sign_in.html", notice=_words()["password_set"], email=link.email)
    return render("console/invite.html", link=link, brand_name=brand_name)


def _brand_name(brand_id: int) -> str:
    from service.models import Brand

    brand = db.session().get(Brand, brand_id)
    return brand.name if brand else ""


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Response:
    session = db.session()
    link = accounts.link_for(session, token, "reset")
    if link is None:
        return render("console/message.html", 410, message=_words()["link_dead"])
    if request.method == "POST":
        if _throttled():
            return render("console/reset.html", 429, link=link, error=_words()["too_many"])
        try:
            accounts.reset_password(session, token, request.form.get("password", ""))
        except accounts.AccessRefused as error:
            return render("console/reset.html", 422, link=link, error=_refusal(error))
        return render("console/sign_in.html", notice=_words()["password_set"], email=link.email)
    return render("console/reset.html", link=link)


def link_url(kind: str, token: str) -> str:
    return current_app.config["PASSCAST"].public_base_url.rstrip("/") + f"/console/{kind}/{token}"


@bp.route("/forgot", methods=["GET", "POST"])
def forgot() -> Response:
    if request.method == "GET":
        return render("console/forgot.html")
    if _throttled():
        return render("console/forgot.html", 429, error=_words()["too_many"])
    session = db.session()
    email = accounts.normalise_email(request.form.get("email", ""))
    account = session.scalar(select(StaffAccount).where(StaffAccount.email == email))
    if account is not None:
        words = _words()
        text = words["mail_text"].format(link=link_url("reset", accounts.create_reset(session, account)))
        settings = current_app.config["PASSCAST"]
        if settings.smtp_host:
            try:
                mail.send(settings, account.email, words["mail_subject"], text)
            except OSError as error:  # smtplib's errors are OSErrors; the answer stays the same
                log.warning("console reset mail to account %s not sent: %s", account.id, error)
        else:  # development: no SMTP, the mail goes to the log
            log.warning("SMTP_HOST is not set; the password reset mail for %s would say:\n%s", account.email, text)
    return render("console/forgot.html", notice=_words()["forgot_sent"])


# ---- two-factor -----------------------------------------------------------------------------


@bp.route("/security", methods=["GET", "POST"])
@signed_in()
def security() -> Response:
    """Two-factor sign-in on and off, the recovery codes (shown once, when made), signing out others.
    The page answers a POST that makes codes itself (200, no-store) rather than redirecting: the
    codes exist in that answer and nowhere else."""
    session = db.session()
    account: StaffAccount = g.console_session.account
    if request.method == "POST":
        action = request.form.get("action")
        if action == "disable":
            accounts.disable_totp(session, account)
        elif action == "enable" and not account.totp_enabled:  # a resubmitted form makes no second set
            secret = request.form.get("secret", "")
            codes = accounts.enable_totp(session, account, secret, request.form.get("code", ""))
            if codes is None:
                return _security_page(account, secret, _words()["totp_wrong"], 422)
            return _security_page(account, None, None, codes=codes, notice=_words()["totp_now_on"])
        elif action == "regenerate-codes" and account.totp_enabled:
            codes = accounts.regenerate_recovery_codes(session, account)
            return _security_page(account, None, None, codes=codes, notice=_words()["codes_regenerated"])
        elif action == "sign-out-others":
            session.execute(delete(StaffSession).where(StaffSession.account_id == account.id,
                                                       StaffSession.id != g.console_session.id))
            session.commit()
            return _security_page(account, None, None, 200, notice=_words()["signed_out_all"])
        return redirect(url_for(".security"))  # type: ignore[return-value]
    return _security_page(account, None, None)


def _security_page(account: StaffAccount, secret: str | None, error: str | None, status: int = 200,
                   notice: str | None = None, codes: list[str] | None = None) -> Response:
    secret = secret or pyotp.random_base32()
    try:
        uri = accounts.totp_uri(account, secret)
    except ValueError:  # a posted secret that is no TOTP secret (edited by hand): start afresh
        secret = pyotp.random_base32()
        uri = accounts.totp_uri(account, secret)
    qr = None if account.totp_enabled else accounts.qr_data_uri(uri)
    left = recovery_codes.remaining(db.session(), account.id) if account.totp_enabled else 0
    return render("console/security.html", status, secret=secret, qr=qr, error=error, notice=notice,
                  codes=codes, codes_left=left, codes_total=recovery_codes.COUNT)


# ---- the team ---------------------------------------------------------------------------------


def _store_ids() -> list[int]:
    """The stores ticked on the form (team.invite and team.change_role keep them to our brand's)."""
    return [int(value) for value in request.form.getlist("store_ids") if value.isdigit()]


def _actor() -> audit.Actor:
    me = g.console_session.account
    return audit.Actor("staff", me.id, f"staff {me.email}")


@bp.get("/team")
@signed_in("accounts")
def team() -> Response:
    return _team_page()


def _team_page(status: int = 200, **extra: object) -> Response:
    session = db.session()
    brand_id = g.console_session.account.brand_id
    stores = list(session.scalars(select(Store).where(Store.brand_id == brand_id).order_by(Store.name)))
    return render("console/team.html", status, members=team_rules.members(session, brand_id),
                  invites=team_rules.open_invites(session, brand_id), stores=stores, store_scoped=STORE_SCOPED, **extra)


def _member(account_id: int) -> StaffAccount | None:
    return team_rules.member(db.session(), g.console_session.account.brand_id, account_id)


def _team_refusal(error: team_rules.TeamRefused) -> Response:
    db.session().rollback()
    return _team_page(error.status, error=_words().get(error.reason, _words()["forbidden"]))


@bp.post("/team/invite")
@signed_in("accounts")
def team_invite() -> Response:
    try:
        made = team_rules.invite(db.session(), g.console_session.account.brand, request.form.get("email", ""),
                           request.form.get("role", ""), _store_ids(), _actor())
    except team_rules.TeamRefused as error:
        return _team_refusal(error)
    return _team_page(made=_words()["invite_made"].format(email=made.email), made_link=link_url("invite", made.token))


@bp.post("/team/<int:account_id>/role")
@signed_in("accounts")
def team_role(account_id: int) -> Response:
    member = _member(account_id)
    if member is None:
        return render("console/message.html", 404, message=_words()["forbidden"])
    try:
        team_rules.change_role(db.session(), member, request.form.get("role", ""), _store_ids(), _actor())
    except team_rules.TeamRefused as error:
        return _team_refusal(error)
    return redirect(url_for(".team"))  # type: ignore[return-value]


@bp.post("/team/<int:account_id>/remove")
@signed_in("accounts")
def team_remove(account_id: int) -> Response:
    member = _member(account_id)
    if member is None:
        return render("console/message.html", 404, message=_words()["forbidden"])
    try:
        team_rules.remove(db.session(), member, _actor())
    except team_rules.TeamRefused as error:
        return _team_refusal(error)
    return redirect(url_for(".team"))  # type: ignore[return-value]


@bp.post("/team/<int:account_id>/reset-link")
@signed_in("accounts")
def team_reset_link(account_id: int) -> Response:
    member = _member(account_id)
    if member is None:
        return render("console/message.html", 404, message=_words()["forbidden"])
    token = team_rules.reset_link(db.session(), member, _actor())
    return _team_page(made=_words()["reset_made"].format(email=member.email), made_link=link_url("reset", token))
