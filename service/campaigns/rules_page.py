"""The console's messaging rules (/console/campaigns/rules): per program, the frequency cap and
quiet hours every campaign and journey keeps, and how many cards turned messages off.

Rendered from the models; the form saves through PUT /api/v1/programs/{id}/messaging-rules
(console.js, data-api), which needs the "campaigns" permission: a role without it sees the rules
but no form.
"""

from __future__ import annotations

from flask import Blueprint, Response, g
from sqlalchemy import func, select

from service.access.roles import permissions_of
from service.campaigns import rules
from service.console import words
from service.console.guard import render, signed_in
from service.enrolment.settings_page import brand_programs, chosen_program
from service.models import Card, MessageOptOut, Store
from service.platform import db

bp = Blueprint("messaging_rules_page", __name__, template_folder="templates")

#: What PUT /api/v1/programs/{id}/messaging-rules requires (service/api/messaging_rules.py).
CHANGE_PERMISSION = "campaigns"

words.add({
    "rules_link": ("Messaging rules: caps and quiet hours", "Правила рассылок: лимиты и тихие часы"),
    "rules_title": ("Messaging rules", "Правила рассылок"),
    "rules_intro": ("Limits every campaign and journey keeps for each card. Changes to a card itself (balance, "
                    "stamps, level) always go at once.",
                    "Ограничения, которые соблюдает каждая рассылка и сценарий для каждой карты. Изменения самой "
                    "карты (баланс, штампы, уровень) уходят всегда и сразу."),
    "rules_program": ("Program", "Программа"),
    "rules_choose": ("Show", "Показать"),
    "rules_cap": ("Frequency cap", "Лимит частоты"),
    "rules_cap_count": ("At most this many messages per card (empty: no cap)",
                        "Не больше стольких сообщений на карту (пусто — без лимита)"),
    "rules_cap_days": ("In this many days", "За столько дней"),
    "rules_cap_hint": ("Campaigns and journeys count together. Google Wallet also notifies at most 3 times a day "
                       "per card; beyond that a message is shown on the card without a notification.",
                       "Рассылки и сценарии считаются вместе. Google Wallet к тому же уведомляет не больше 3 раз в "
                       "сутки на карту; сверх этого сообщение показывается на карте без уведомления."),
    "rules_over_cap": ("A message over the cap", "Сообщение сверх лимита"),
    "rules_over_cap_defer": ("Wait and send it when the cap allows", "Подождать и отправить, когда лимит позволит"),
    "rules_over_cap_drop": ("Do not send it", "Не отправлять"),
    "rules_quiet": ("Quiet hours", "Тихие часы"),
    "rules_quiet_start": ("From (the customer's local time)", "С (местное время клиента)"),
    "rules_quiet_end": ("Until", "До"),
    "rules_quiet_hint": ("Messages that would arrive in quiet hours wait until they end. Empty: no quiet hours.",
                         "Сообщения, которые пришли бы в тихие часы, ждут их окончания. Пусто — без тихих часов."),
    "rules_zone": ("Time zone", "Часовой пояс"),
    "rules_zone_hint": ("The customer's home store's time zone, else the program's: {zone}. A store's time zone is "
                        "set on its page under Stores.",
                        "Часовой пояс домашнего магазина клиента, иначе программы: {zone}. Часовой пояс магазина "
                        "задаётся на его странице в разделе «Магазины»."),
    "rules_stores_with_zone": ("Stores with their own time zone", "Магазины со своим часовым поясом"),
    "rules_opted_out": ("Cards that turned messages off", "Карт, отключивших сообщения"),
    "rules_opted_out_hint": ("Each pass carries a link on its back (and on the Google Wallet card) where its holder "
                             "turns offers and news off or on.",
                             "На обороте каждой карты (и в карте Google Wallet) есть ссылка, где владелец выключает "
                             "или включает предложения и новости."),
    "rules_read_only": ("Your role can see these rules but not change them.",
                        "Ваша роль видит эти правила, но не может их менять."),
    "rules_no_program": ("Your brand has no program yet.", "У вашего бренда пока нет программы."),
    # the campaign page's report (campaigns_rules/_paced.html) and its recipients' states
    "paced_title": ("Held back by the messaging rules", "Задержано правилами рассылок"),
    "paced_deferred": ("Waiting to be sent", "Ждут отправки"),
    "paced_sent_later": ("Waited, then sent", "Подождали и отправлены"),
    "paced_dropped": ("Not sent", "Не отправлено"),
    "paced_reason_cap": ("frequency cap", "лимит частоты"),
    "paced_reason_quiet_hours": ("quiet hours", "тихие часы"),
    "paced_reason_opted_out": ("turned messages off", "отключил сообщения"),
    "paced_reason_voided": ("card voided", "карта аннулирована"),
    "paced_reason_cancelled": ("campaign cancelled", "рассылка отменена"),
    "campaigns_state_deferred": ("waiting (rules)", "ждёт (правила)"),
    "campaigns_state_dropped": ("not sent (rules)", "не отправлено (правила)"),
})


@bp.get("/console/campaigns/rules")
@signed_in("read")
def index() -> Response:
    session = db.session()
    programs = brand_programs()
    program = chosen_program(programs)
    if program is None:
        return render("campaigns_rules/rules.html", programs=[], program=None)
    brand_id = g.console_session.account.brand_id
    opted_out = session.scalar(select(func.count()).select_from(MessageOptOut)
                               .join(Card, Card.id == MessageOptOut.card_id).where(Card.program_id == program.id)) or 0
    zoned = session.execute(select(Store.name, Store.time_zone).where(Store.brand_id == brand_id,
                                                                      Store.time_zone.is_not(None))
                            .order_by(Store.name)).all()
    return render("campaigns_rules/rules.html", programs=programs, program=program,
                  values=rules.view(session, program), opted_out=int(opted_out), zoned_stores=zoned,
                  may_change=CHANGE_PERMISSION in permissions_of(g.console_session.account.role))
