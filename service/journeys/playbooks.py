"""Ready-made journeys a brand switches on with one click, and the placeholders their texts use.

Each playbook is one or more journeys (win-back is three: 30, 60 and 90 days without a visit,
each offering more), built for the program's kind: a stamp card gets stamps where a points card
gets points, a discount card neither. Switching one on creates its journeys enabled, through the
same checks as any journey (service/journeys/editing.py), and is idempotent: a step that exists
is switched on again, never made twice (a step is known by its playbook, trigger and value).

Texts are English with a Russian variant (the customer's language picks one, as for
campaigns), and carry placeholders that `render(text, card)` fills when the message is sent:

- `{name}`: the customer's first name;
- `{balance}`: the card's points (cashback: money, "3.40"; stamps: the stamps on the card); the
  other amounts below are money on a cashback card too;
- `{stamps_required}`: the stamps that fill a card (stamp programs);
- `{points_needed}` and `{reward}`: how far the card is from the nearest catalogue reward it
  cannot yet buy, and its name (stamp programs: the stamps to a full card, "a full card");
- `{expiring_points}` and `{expiry_date}`: the points that expire next and the day (YYYY-MM-DD).

An unknown placeholder is left as it is; a value that cannot be known becomes an empty string.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from service.journeys import editing
from service.loyalty.engine import expirable_points, money_text, points_to_money
from service.models import Card, CatalogueReward, Journey, Program

PLACEHOLDERS = ("name", "balance", "stamps_required", "points_needed", "reward", "expiring_points", "expiry_date")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
#: The bonus on the second win-back step (points programs; stamp cards get one stamp).
WIN_BACK_POINTS = 50


@dataclass(frozen=True)
class Step:
    """One journey of a playbook."""

    name: str
    trigger: str
    trigger_value: int | None
    actions: list[dict[str, Any]]
    conditions: dict[str, Any] = field(default_factory=dict)
    holdout_percent: int = 10


@dataclass(frozen=True)
class Playbook:
    name: str
    title: tuple[str, str]  # en, ru
    summary: tuple[str, str]


PLAYBOOKS: dict[str, Playbook] = {p.name: p for p in (
    Playbook("welcome", ("Welcome", "Приветствие"),
             ("A welcome message on the card the day a customer joins.",
              "Приветственное сообщение на карте в день, когда клиент присоединился.")),
    Playbook("points_reminder", ("Points reminder", "Напоминание о баллах"),
             ("After 21 days without a visit, a card holding 100 points or more (stamp cards: any stamps) is told "
              "its balance: \"you have 340 points, spend them\".",
              "Через 21 день без визита карте с 100 баллами и больше (карте со штампами — с любыми штампами) "
              "напоминают баланс: «у вас 340 баллов, потратьте их».")),
    Playbook("expiry_reminder", ("Expiry reminder", "Напоминание о сгорании"),
             ("30 days and again 3 days before points expire, the card says how many and when.",
              "За 30 дней и ещё раз за 3 дня до сгорания баллов карта сообщает, сколько и когда.")),
    Playbook("win_back", ("Win-back", "Возвращение"),
             ("No visit for 30 days: a message; for 60 days: a message and a bonus; for 90 days: a message and a "
              "coupon.",
              "Нет визитов 30 дней — сообщение; 60 дней — сообщение и бонус; 90 дней — сообщение и купон.")),
    Playbook("reward_within_reach", ("Reward within reach", "Награда совсем рядом"),
             ("When a card comes within 50 points (stamp cards: 1 stamp) of a reward, it says how close.",
              "Когда до награды остаётся 50 баллов (карте со штампами — 1 штамп), карта говорит, как близко.")),
    Playbook("detractor_follow_up", ("Detractor follow-up", "Работа с недовольными"),
             ("An NPS answer of 6 or below: the store manager gets a task to call back (who, the score, what they "
              "said) and the customer a thank-you. No holdout: every unhappy customer is called.",
              "Оценка NPS 6 и ниже: управляющий магазином получает задачу перезвонить (кто, оценка, что сказал), "
              "а клиент — благодарность. Без контрольной группы: звонят каждому недовольному.")),
)}


def _message(en: str, ru: str) -> dict[str, Any]:
    return {"type": "message", "text": en, "variants": {"ru": ru}}


def steps(playbook: str, program: Program, options: dict[str, Any] | None = None) -> list[Step]:
    """The journeys `playbook` makes for `program` (options: `reward_id` for win-back's coupon,
    `holdout_percent` for every step that keeps one)."""
    options = options or {}
    kind = program.kind
    stamps = kind == "stamps"
    if playbook == "welcome":
        made = [Step("Welcome", "joined", None, [_message(
            "Welcome, {name}! Your card is ready: show it at the till to collect "
            + {"stamps": "stamps.", "discount": "rewards.", "cashback": "cashback."}.get(kind, "points."),
            "Добро пожаловать, {name}! Карта готова: покажите её на кассе, чтобы копить "
            + {"stamps": "штампы.", "discount": "скидки.", "cashback": "кэшбэк."}.get(kind, "баллы."))])]
    elif playbook == "points_reminder":
        en, ru = {"stamps": ("You have {balance} of {stamps_required} stamps, {name}: come by and fill your card.",
                             "У вас {balance} из {stamps_required} штампов, {name}: заходите и заполните карту."),
                  "cashback": ("{name}, you have {balance} of cashback on your card: spend it on your next visit.",
                               "{name}, у вас на карте {balance} кэшбэка: потратьте его при следующем визите.")
                  }.get(kind, ("{name}, you have {balance} points: spend them on your next visit.",
                               "{name}, у вас {balance} баллов: потратьте их при следующем визите."))
        made = [Step("Points reminder", "lapsed", 21, [_message(en, ru)],
                     conditions={"min_balance": 1 if stamps else 100})]
    elif playbook == "expiry_reminder":
        en, ru = (("{name}, {expiring_points} of your cashback expires on {expiry_date}. Spend it before it goes.",
                   "{name}, {expiring_points} вашего кэшбэка сгорит {expiry_date}. Потратьте, пока не поздно.")
                  if kind == "cashback" else
                  ("{name}, {expiring_points} of your points expire on {expiry_date}. Spend them before they go.",
                   "{name}, {expiring_points} ваших баллов сгорят {expiry_date}. Потратьте их, пока не поздно."))
        made = [Step(f"Expiry reminder, {days} days", "points_expiring", days, [_message(en, ru)])
                for days in (30, 3)]
    elif playbook == "win_back":
        bonus: list[dict[str, Any]] = ([{"type": "stamps", "stamps": 1}] if stamps
                                       else [{"type": "points", "points": WIN_BACK_POINTS}] if kind in
                                       editing.POINTS_KINDS else [])
        coupon: dict[str, Any] = ({"type": "coupon", "reward_id": options["reward_id"]}
                                  if options.get("reward_id") else
                                  {"type": "coupon", "name": "A treat on us", "valid_days": 30})
        cashback = money_text(points_to_money(WIN_BACK_POINTS))  # cashback points are cents
        gift_en = ("an extra stamp" if stamps else f"{cashback} of bonus cashback" if kind == "cashback"
                   else f"{WIN_BACK_POINTS} bonus points" if bonus else "")
        gift_ru = ("дополнительный штамп" if stamps else f"{cashback} бонусного кэшбэка" if kind == "cashback"
                   else f"{WIN_BACK_POINTS} бонусных баллов" if bonus else "")
        made = [
            Step("Win-back, 30 days", "lapsed", 30, [_message(
                "We miss you, {name}! Come by this week.", "Мы скучаем, {name}! Заходите на этой неделе.")]),
            Step("Win-back, 60 days", "lapsed", 60, [_message(
                f"{{name}}, it has been a while: {gift_en} {'is' if kind == 'cashback' else 'are'} on your card "
                "for your next visit." if bonus
                else "{name}, it has been a while: we would love to see you again.",
                f"{{name}}, давно не виделись: {gift_ru} уже на карте к следующему визиту." if bonus
                else "{name}, давно не виделись: будем рады видеть вас снова."), *bonus]),
            Step("Win-back, 90 days", "lapsed", 90, [_message(
                "{name}, a coupon is waiting on your card: redeem it within 30 days.",
                "{name}, на карте вас ждёт купон: воспользуйтесь им в течение 30 дней."), coupon]),
        ]
        if stamps:  # "an extra stamp are" reads wrong; one stamp, singular
            made[1] = Step("Win-back, 60 days", "lapsed", 60, [_message(
                "{name}, it has been a while: an extra stamp is on your card for your next visit.",
                "{name}, давно не виделись: дополнительный штамп уже на карте к следующему визиту."), *bonus])
    elif playbook == "reward_within_reach":
        made = [Step("Reward within reach", "reward_within_reach", 1 if stamps else 50, [_message(
            "{name}, just {points_needed} more " + ("stamps" if stamps else "points") + " to {reward}!",
            "{name}, ещё " + ("штампов" if stamps else "баллов") + ": {points_needed}, и {reward} ваша!")])]
    elif playbook == "detractor_follow_up":
        made = [Step("Detractor follow-up", "nps_at_or_below", 6, [
            {"type": "task", "text": "Call the customer back about their visit: they gave a low score."},
            _message("Thank you for your honest answer, {name}. Our team will be in touch.",
                     "Спасибо за честный ответ, {name}. Мы с вами свяжемся.")], holdout_percent=0)]
    else:
        raise KeyError(playbook)
    if options.get("holdout_percent") is not None:
        made = [Step(s.name, s.trigger, s.trigger_value, s.actions, s.conditions,
                     options["holdout_percent"] if s.holdout_percent else 0) for s in made]
    return made


def unavailable(playbook: str, program: Program) -> str | None:
    """Why the playbook cannot run on this program (None: it can)."""
    if playbook == "expiry_reminder" and (program.kind not in editing.POINTS_KINDS or not program.points_expire_days):
        return ("this program's points never expire (set points_expire_days first)"
                if program.kind in editing.POINTS_KINDS else f"a {program.kind} card has no points to expire")
    if playbook in ("points_reminder", "reward_within_reach") and program.kind == "discount":
        return "a discount card has no balance"
    return None


def _existing(session: Session, program: Program, playbook: str) -> list[Journey]:
    return list(session.scalars(select(Journey).where(Journey.program_id == program.id,
                                                      Journey.playbook == playbook).order_by(Journey.id)))


def _matches(journey: Journey, step: Step) -> bool:
    return journey.trigger == step.trigger and journey.trigger_value == step.trigger_value


def listing(session: Session, program: Program) -> list[dict[str, Any]]:
    """Every playbook with its steps for this program and whether it is switched on (every step
    exists and is enabled), partly (some), or off; `available` False with the reason when the
    program cannot run it."""
    found = []
    for name, playbook in PLAYBOOKS.items():
        existing = _existing(session, program, name)
        planned = steps(name, program)
        on = [journey for journey in existing if journey.enabled and any(_matches(journey, s) for s in planned)]
        state = "on" if len(on) >= len(planned) else "partly" if on else "off"
        reason = unavailable(name, program)
        found.append({"name": name, "title": playbook.title[0], "summary": playbook.summary[0],
                      "title_ru": playbook.title[1], "summary_ru": playbook.summary[1],
                      "state": state, "enabled": state == "on", "available": reason is None,
                      "unavailable_reason": reason, "journey_ids": [journey.id for journey in existing],
                      "steps": [{"name": s.name, "trigger": s.trigger, "trigger_value": s.trigger_value,
                                 "actions": [a["type"] for a in s.actions], "holdout_percent": s.holdout_percent}
                                for s in planned]})
    return found


def switch_on(session: Session, program: Program, playbook: str,
              options: dict[str, Any] | None = None) -> tuple[list[Journey], int]:
    """Create the playbook's missing journeys enabled and switch on those switched off; returns
    its journeys and how many were created. The caller holds the program's row lock (so two calls
    at once cannot both create) and commits. Raises editing.JourneyRefused."""
    reason = unavailable(playbook, program)
    if reason is not None:
        raise editing.JourneyRefused([{"field": "playbook", "message": reason}])
    existing = _existing(session, program, playbook)
    created = 0
    journeys = []
    for step in steps(playbook, program, options):
        journey = next((one for one in existing if _matches(one, step)), None)
        if journey is None:
            journey = editing.create(session, program, {
                "name": step.name, "trigger": step.trigger, "trigger_value": step.trigger_value,
                "conditions": step.conditions, "actions": step.actions, "holdout_percent": step.holdout_percent,
                "enabled": True}, playbook=playbook)
            created += 1
        else:
            editing.set_enabled(session, journey, True)
        journeys.append(journey)
    return journeys, created


def switch_off(session: Session, program: Program, playbook: str) -> list[Journey]:
    """Switch off every journey of the playbook (kept, with their history). Caller commits."""
    journeys = _existing(session, program, playbook)
    for journey in journeys:
        editing.set_enabled(session, journey, False)
    return journeys


# ---- placeholders --------------------------------------------------------------------------

def _first_name(card: Card) -> str:
    return (card.customer.name or "").strip().split(" ")[0] if card.customer else ""


def _amount(card: Card, points: int) -> str:
    """Points as the card shows them: cashback points are cents of money."""
    return money_text(points_to_money(points)) if card.program.kind == "cashback" else str(points)


def _balance(card: Card) -> str:
    return _amount(card, card.balance)


def _within_reach(session: Session | None, card: Card) -> tuple[str, str]:
    """(points needed, reward name) for the nearest reward the card cannot buy yet."""
    program = card.program
    if program.kind == "stamps":
        required = program.stamps_required or 0
        return (str(max(0, required - card.balance)), "a full card") if required else ("", "")
    if session is None:
        return "", ""
    reward = session.scalar(select(CatalogueReward).where(
        CatalogueReward.program_id == program.id, CatalogueReward.active.is_(True),
        CatalogueReward.cost_points > card.balance).order_by(CatalogueReward.cost_points).limit(1))
    if reward is None or reward.cost_points is None:
        return "", ""
    return _amount(card, reward.cost_points - card.balance), reward.name


def _expiring(session: Session | None, card: Card) -> tuple[str, str]:
    """(points expiring next, that day) from the card's next expiry."""
    moment, days = card.points_expire_at, card.program.points_expire_days
    if moment is None or not days or session is None:
        return "", ""
    points = expirable_points(session, card.id, moment - dt.timedelta(days=days))
    return _amount(card, points), moment.date().isoformat()


def render(text: str, card: Card, values: dict[str, Any] | None = None) -> str:
    """`text` with its placeholders (PLACEHOLDERS) filled for `card`; `values` given by the caller
    (the evaluator knows the reward it measured, say) win over those worked out here. Only the
    placeholders the text uses are worked out (the reward and expiry ones read the database)."""
    given = {key: str(value) for key, value in (values or {}).items()}
    used = set(_PLACEHOLDER.findall(text)) - set(given)
    if not used:
        return _PLACEHOLDER.sub(lambda match: given[match[1]], text)
    session = object_session(card)
    found: dict[str, str] = dict(given)
    if "name" in used:
        found["name"] = _first_name(card)
    if "balance" in used:
        found["balance"] = _balance(card)
    if "stamps_required" in used:
        found["stamps_required"] = str(card.program.stamps_required or "")
    if used & {"points_needed", "reward"}:
        found["points_needed"], found["reward"] = _within_reach(session, card)
    if used & {"expiring_points", "expiry_date"}:
        found["expiring_points"], found["expiry_date"] = _expiring(session, card)
    found.update(given)
    return _PLACEHOLDER.sub(lambda match: found.get(match[1], ""), text)
