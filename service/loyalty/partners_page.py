"""Partner programs in the console (/console/partners, the owner): the brand's own programs with their
partners (invite by brand id, remove, the settlement point value), other brands' programs it is invited
to or takes part in (accept, leave), and a program's settlement for a period (with its CSV).

Every change goes through the brand API (service/api/partners.py) with the console session, so the
rules (only the host invites, only the invited brand accepts) live in one place; the settlement table
is the API's answer (service/loyalty/settlement.py) drawn as HTML.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, g, request
from sqlalchemy import select

from service.console import sections, words
from service.console.guard import render, signed_in
from service.loyalty import partners, settlement
from service.models import Program, utcnow
from service.platform import db

bp = Blueprint("partners_page", __name__, template_folder="templates")
sections.add(sections.Section("partners_page.index", "nav_partners", "partners", 75, "/console/partners"))

words.add({
    "nav_partners": ("Partner programs", "Партнёрские программы"),
    "partners_title": ("Partner programs", "Партнёрские программы"),
    "partners_intro": ("Share a program with other brands: customers earn and spend points at every partner. "
                       "Partners see a card's balance, never who holds it.",
                       "Общая программа с другими брендами: клиенты копят и тратят баллы у любого партнёра. "
                       "Партнёры видят баланс карты, но не её владельца."),
    "partners_brand_id": ("Your brand's id (tell it to a host that wants to invite you): {id}",
                          "Номер вашего бренда (сообщите его бренду, который хочет вас пригласить): {id}"),
    "partners_yours": ("Your programs", "Ваши программы"),
    "partners_not_shareable": ("Only points and cashback programs can have partners.",
                               "Партнёры бывают только у программ с баллами или кешбэком."),
    "partners_value": ("What one point is worth in the settlement ({currency})",
                       "Стоимость одного балла при расчётах ({currency})"),
    "partners_value_save": ("Save the value", "Сохранить стоимость"),
    "partners_invite_brand": ("Brand id to invite", "Номер приглашаемого бренда"),
    "partners_invite": ("Invite", "Пригласить"),
    "partners_brand": ("Brand", "Бренд"),
    "partners_status": ("Status", "Состояние"),
    "partners_status_invited": ("invited", "приглашён"),
    "partners_status_active": ("active", "участвует"),
    "partners_status_left": ("left", "вышел"),
    "partners_remove": ("Remove", "Исключить"),
    "partners_remove_confirm": ("Remove {brand} from the program? Its cashiers lose the program's cards at once.",
                                "Исключить {brand} из программы? Его кассиры сразу потеряют доступ "
                                "к картам программы."),
    "partners_none": ("No partners yet.", "Партнёров пока нет."),
    "partners_theirs": ("Other brands' programs", "Программы других брендов"),
    "partners_host": ("Host", "Владелец"),
    "partners_accept": ("Accept", "Принять"),
    "partners_leave": ("Leave", "Выйти"),
    "partners_leave_confirm": ("Leave {program}? Your cashiers lose its cards at once.",
                               "Выйти из программы {program}? Ваши кассиры сразу потеряют доступ к её картам."),
    "partners_settlement": ("Settlement", "Взаиморасчёты"),
    "partners_program": ("Program", "Программа"),
    "partners_from": ("From (day)", "С (день)"),
    "partners_to": ("To (day, included)", "По (день включительно)"),
    "partners_show": ("Show", "Показать"),
    "partners_csv": ("Download CSV", "Скачать CSV"),
    "partners_issued": ("Points issued", "Начислено баллов"),
    "partners_redeemed": ("Points redeemed", "Списано баллов"),
    "partners_expired": ("Points expired", "Сгорело баллов"),
    "partners_net": ("Net ({currency})", "Итог ({currency})"),
    "partners_transfers": ("Who pays whom", "Кто кому платит"),
    "partners_transfer": ("{payer} pays {payee} {amount} {currency}", "{payer} платит {payee} {amount} {currency}"),
    "partners_no_transfers": ("Nothing to settle in this period.", "В этом периоде рассчитываться не за что."),
    "partners_rule": ("A brand pays the value of the points it issued and is paid the value of the points it "
                      "redeemed; every partner settles with the host, who keeps the rest for points still on cards.",
                      "Бренд платит за начисленные им баллы и получает за списанные; каждый партнёр "
                      "рассчитывается с владельцем программы, у которого остаётся сумма за баллы, "
                      "ещё лежащие на картах."),
    "partners_total": ("Total", "Итого"),
})


def _period() -> tuple[dt.date, dt.date]:
    """The asked period, else this month so far (a bad or too long one falls back to it too)."""
    today = utcnow().date()
    try:
        start = dt.date.fromisoformat(request.args.get("from", ""))
        end = dt.date.fromisoformat(request.args.get("to", ""))
    except ValueError:
        return today.replace(day=1), today
    if end < start or (end - start).days >= settlement.MAX_DAYS:
        return today.replace(day=1), today
    return start, end


def _settled_programs(brand_id: int, own: list[Program], taking_part: list[Any]) -> list[Program]:
    """The programs whose settlement this brand may read: its shareable ones, and those it took part in."""
    return ([program for program in own if program.kind in partners.PARTNER_KINDS]
            + [row.program for row in taking_part if row.joined_at is not None])


@bp.get("/console/partners")
@signed_in("partners")
def index() -> Response:
    session = db.session()
    brand_id = g.console_session.account.brand_id
    own = list(session.scalars(select(Program).where(Program.brand_id == brand_id).order_by(Program.id)))
    taking_part = partners.partnerships_of(session, brand_id)
    settled = _settled_programs(brand_id, own, taking_part)
    chosen = next((program for program in settled if str(program.id) == request.args.get("program")),
                  settled[0] if settled else None)
    start, end = _period()
    report = settlement.settlement(session, chosen, start, end) if chosen is not None else None
    return render("partners/partners.html", brand_id=brand_id, own=own,
                  partners_of={program.id: partners.partners_of(session, program.id) for program in own},
                  point_value=settlement.point_value, shareable=partners.PARTNER_KINDS,
                  taking_part=taking_part, settled=settled, chosen=chosen, report=report,
                  start=start.isoformat(), end=end.isoformat())
