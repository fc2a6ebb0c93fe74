"""The console's rewards page (/console/rewards): each program's reward catalogue, adding a reward,
changing its cost or end, taking it out of the catalogue and putting it back.

Reads are rendered here from the models; every change is a console.js data-api form posting to
/api/v1/programs/{id}/rewards (service/api/rewards.py), which checks the role again (`design`).
Coupons are granted to one customer from the members page (service/loyalty/members_page.py).
"""

from __future__ import annotations

from flask import Blueprint, Response, g
from sqlalchemy import select

from service.console import sections, words
from service.console.guard import render, signed_in
from service.loyalty import rewards
from service.models import Program
from service.platform import db

bp = Blueprint("rewards_page", __name__, template_folder="templates")
sections.add(sections.Section("rewards_page.index", "nav_rewards", "read", 45, "/console/rewards"))

words.add({
    "nav_rewards": ("Rewards", "Награды"),
    "rewards_title": ("Rewards and coupons", "Награды и купоны"),
    "rewards_intro": ("What customers can buy with points, take for a full stamp card, or be given as a coupon. "
                      "What a card holds shows on its pass and at the till until it is redeemed or ends.",
                      "Что клиенты могут купить за баллы, получить за заполненную карту штампов или получить "
                      "в подарок как купон. То, что есть на карте, видно на карте в кошельке и на кассе, "
                      "пока награду не выдали или пока не истёк её срок."),
    "rewards_none": ("No rewards in this program's catalogue yet.", "В каталоге этой программы пока нет наград."),
    "rewards_name": ("Name", "Название"),
    "rewards_description": ("Description", "Описание"),
    "rewards_cost": ("Cost in points", "Цена в баллах"),
    "rewards_cost_hint": ("Leave empty for a coupon the brand grants (or a stamp card's reward).",
                          "Оставьте пустым для купона, который дарит бренд (или награды за карту штампов)."),
    "rewards_full_card": ("Taken for a full stamp card", "Выдаётся за заполненную карту штампов"),
    "rewards_valid_days": ("Valid for (days)", "Действует (дней)"),
    "rewards_valid_hint": ("From the day a card gets it; empty: no end.",
                           "Со дня получения; пусто — без срока."),
    "rewards_coupon": ("coupon", "купон"),
    "rewards_full": ("a full card", "заполненная карта"),
    "rewards_no_end": ("no end", "без срока"),
    "rewards_days": ("{n} days", "{n} дн."),
    "rewards_state": ("Status", "Статус"),
    "rewards_active": ("in the catalogue", "в каталоге"),
    "rewards_inactive": ("retired", "снята"),
    "rewards_add": ("Add a reward", "Добавить награду"),
    "rewards_retire": ("Retire", "Снять"),
    "rewards_retire_confirm": ("Take this reward out of the catalogue? Cards that hold it keep it until it ends.",
                               "Снять награду из каталога? У тех, у кого она уже есть, она останется до конца срока."),
    "rewards_restore": ("Put back", "Вернуть"),
    "rewards_read_only": ("Your role can look, not change the catalogue.",
                          "Ваша роль может смотреть, но не менять каталог."),
})


@bp.get("/console/rewards")
@signed_in("read")
def index() -> Response:
    """Every program of the brand with its catalogue (retired rewards too)."""
    session = db.session()
    programs = list(session.scalars(select(Program).where(Program.brand_id == g.console_session.account.brand_id)
                                    .order_by(Program.id)))
    catalogues = {program.id: rewards.catalogue(session, program.id) for program in programs}
    return render("rewards/index.html", programs=programs, catalogues=catalogues,
                  points_kinds=rewards.POINTS_KINDS)
