"""The console's challenges page (/console/challenges): per program, its challenges ("5 visits in
December earn 100 points"), making one, changing one, switching one off and on.

Rendered from the models; every change is a console.js data-api form posting to the brand API
(service/api/challenges.py), which checks the permission again ("campaigns"): a role without it
sees the challenges but no forms.
"""

from __future__ import annotations

from flask import Blueprint, Response, g
from sqlalchemy import func, select

from service.access.roles import permissions_of
from service.console import sections, words
from service.console.guard import render, signed_in
from service.enrolment.settings_page import brand_programs, chosen_program
from service.journeys import challenges
from service.models import CatalogueReward, Challenge, ChallengeProgress
from service.platform import db

bp = Blueprint("challenges_page", __name__, template_folder="templates")
sections.add(sections.Section("challenges_page.index", "nav_challenges", "read", 35, "/console/challenges"))

#: What the API's changes require (service/api/challenges.py).
CHANGE_PERMISSION = "campaigns"

words.add({
    "nav_challenges": ("Challenges", "Челленджи"),
    "challenges_title": ("Challenges", "Челленджи"),
    "challenges_intro": ("A number of visits or purchases within a period earns a bonus. Each customer sees their "
                         "progress on the card in Apple Wallet and Google Wallet, and a notice as it moves.",
                         "Нужное число визитов или покупок за период приносит бонус. Каждый клиент видит свой "
                         "прогресс на карте в Apple Wallet и Google Wallet и получает уведомление, когда он растёт."),
    "challenges_program": ("Program", "Программа"),
    "challenges_choose": ("Show", "Показать"),
    "challenges_none": ("No challenges in this program yet.", "В этой программе пока нет челленджей."),
    "challenges_no_program": ("Your brand has no program yet.", "У вашего бренда пока нет программы."),
    "challenges_name": ("Name (the label on the card)", "Название (подпись на карте)"),
    "challenges_counts": ("What counts", "Что считается"),
    "challenges_counts_visits": ("Visits (any purchase or stamp)", "Визиты (любая покупка или штамп)"),
    "challenges_counts_purchases": ("Purchases of at least an amount", "Покупки от суммы"),
    "challenges_min_amount": ("Least amount of a purchase", "Минимальная сумма покупки"),
    "challenges_target": ("How many", "Сколько"),
    "challenges_starts_at": ("From (UTC)", "С (UTC)"),
    "challenges_ends_at": ("Until (UTC)", "До (UTC)"),
    "challenges_rolling_days": ("Within days of a customer's first", "За сколько дней с первого визита"),
    "challenges_period_hint": ("Give an end, a number of days, or both. With days only, a customer can complete it "
                               "again in a new window.",
                               "Укажите дату окончания, число дней или и то, и другое. Если указаны только дни, "
                               "клиент может выполнить челлендж снова в новом окне."),
    "challenges_bonus": ("Bonus", "Бонус"),
    "challenges_bonus_points": ("Points", "Баллы"),
    "challenges_bonus_stamps": ("Stamps", "Штампы"),
    "challenges_bonus_coupon": ("A coupon", "Купон"),
    "challenges_bonus_amount": ("Points or stamps given", "Сколько баллов или штампов"),
    "challenges_coupon_reward": ("Coupon from the catalogue", "Купон из каталога"),
    "challenges_coupon_none": ("(none: name one below)", "(нет — назовите ниже)"),
    "challenges_coupon_name": ("Or the coupon's name", "Или название купона"),
    "challenges_coupon_days": ("Coupon valid for (days)", "Купон действует (дней)"),
    "challenges_state": ("Status", "Статус"),
    "challenges_on": ("on", "включён"),
    "challenges_off": ("off", "выключен"),
    "challenges_switch_off": ("Switch off", "Выключить"),
    "challenges_switch_on": ("Switch on", "Включить"),
    "challenges_progress": ("Cards started / completed", "Карт начали / выполнили"),
    "challenges_add": ("Add a challenge", "Добавить челлендж"),
    "challenges_edit": ("Change", "Изменить"),
    "challenges_save": ("Save", "Сохранить"),
    "challenges_period": ("Period", "Период"),
    "challenges_days": ("{n} days each", "по {n} дн."),
    "challenges_read_only": ("Your role can see the challenges but not change them.",
                             "Ваша роль видит челленджи, но не может их менять."),
})


@bp.get("/console/challenges")
@signed_in("read")
def index() -> Response:
    """The chosen program's challenges (switched off ones too), with how many cards took part."""
    session = db.session()
    programs = brand_programs()
    program = chosen_program(programs)
    if program is None:
        return render("challenges/index.html", programs=[], program=None)
    rows = list(session.scalars(select(Challenge).where(Challenge.program_id == program.id).order_by(Challenge.id)))
    figures = {challenge_id: (int(started), int(completed)) for challenge_id, started, completed in session.execute(
        select(ChallengeProgress.challenge_id, func.count(func.distinct(ChallengeProgress.card_id)),
               func.count(ChallengeProgress.completed_at))
        .where(ChallengeProgress.challenge_id.in_([row.id for row in rows]))
        .group_by(ChallengeProgress.challenge_id))} if rows else {}
    coupons = list(session.scalars(select(CatalogueReward).where(CatalogueReward.program_id == program.id,
                                                                 CatalogueReward.active.is_(True))
                                   .order_by(CatalogueReward.name)))
    bonuses = {"stamps": ("stamps", "coupon"), "discount": ("coupon",)}.get(program.kind, ("points", "coupon"))
    return render("challenges/index.html", programs=programs, program=program, challenges=rows, figures=figures,
                  coupons=coupons, bonuses=bonuses, counts=challenges.COUNTS,
                  may_change=CHANGE_PERMISSION in permissions_of(g.console_session.account.role))
