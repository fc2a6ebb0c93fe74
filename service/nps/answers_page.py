"""The console's NPS page (/console/nps): the surveys, starting and stopping one, and each
survey's score with its answers and comments (/console/nps/<id>), newest first, a page at a time.

Reads are rendered from the models (the brand's own rows only; a store manager sees the answers
attributed to their stores). Starting and stopping go through POST /api/v1/nps-surveys and
POST /api/v1/nps-surveys/{id}/stop (console.js forms), which need "campaigns": a role without it
sees the results and no controls. The blueprint is "nps_page_console": "nps_page" is the
customer's answer page (service/nps/page.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, g, request
from sqlalchemy import Select, case, func, select

from service.access.roles import STORE_SCOPED, permissions_of
from service.console import sections, words
from service.console.guard import render, signed_in
from service.models import NpsAnswer, NpsSurvey, Program, Store, utcnow
from service.platform import db

bp = Blueprint("nps_page_console", __name__, template_folder="templates")
sections.add(sections.Section("nps_page_console.index", "nav_nps", "read", 65, "/console/nps"))

CHANGE_PERMISSION = "campaigns"  #: what POST /api/v1/nps-surveys and .../stop require
PAGE_SIZE = 25

words.add({
    "nav_nps": ("NPS", "NPS"),
    "nps_title": ("NPS surveys", "Опросы NPS"),
    "nps_intro": ("While a survey runs, the back of every pass of its program links to a 0–10 question.",
                  "Пока опрос идёт, на обороте каждой карты программы есть ссылка на вопрос с оценкой 0–10."),
    "nps_question": ("Question", "Вопрос"),
    "nps_program": ("Program", "Программа"),
    "nps_period": ("Runs", "Период"),
    "nps_until_stopped": ("until stopped", "пока не остановят"),
    "nps_state": ("State", "Состояние"),
    "nps_running": ("running", "идёт"),
    "nps_planned": ("planned", "запланирован"),
    "nps_ended": ("ended", "завершён"),
    "nps_score": ("Score", "Индекс"),
    "nps_answers": ("Answers", "Ответы"),
    "nps_open": ("Answers", "Ответы"),
    "nps_stop": ("Stop", "Остановить"),
    "nps_stop_confirm": ("Stop this survey now? Its link leaves the passes.",
                         "Остановить опрос сейчас? Ссылка исчезнет с карт."),
    "nps_new": ("Start a survey", "Начать опрос"),
    "nps_start": ("Start now", "Начать сейчас"),
    "nps_default_question": ("How likely are you to recommend us to a friend?",
                             "Насколько вероятно, что вы порекомендуете нас другу?"),
    "nps_read_only": ("Your role can see the results but not start or stop surveys.",
                      "Ваша роль видит результаты, но не может начинать и останавливать опросы."),
    "nps_promoters": ("Promoters (9–10)", "Промоутеры (9–10)"),
    "nps_passives": ("Passives (7–8)", "Нейтральные (7–8)"),
    "nps_detractors": ("Detractors (0–6)", "Критики (0–6)"),
    "nps_score_hint": ("Score = % promoters − % detractors, from −100 to 100.",
                       "Индекс = % промоутеров − % критиков, от −100 до 100."),
    "nps_rating": ("Rating", "Оценка"),
    "nps_comment": ("Comment", "Комментарий"),
    "nps_store": ("Store", "Магазин"),
    "nps_when": ("When", "Когда"),
    "nps_card": ("Card", "Карта"),
    "nps_only_comments": ("Only answers with a comment", "Только с комментарием"),
    "nps_filter": ("Filter", "Отобрать"),
    "nps_all_surveys": ("All surveys", "Все опросы"),
    "nps_your_stores": ("Answers at your stores only.", "Только ответы по вашим магазинам."),
})


@dataclass(frozen=True)
class Score:
    answers: int
    promoters: int
    passives: int
    detractors: int

    @property
    def nps(self) -> int | None:
        """% promoters − % detractors, rounded; None without answers."""
        if not self.answers:
            return None
        return round(100 * (self.promoters - self.detractors) / self.answers)


def _stores_limit() -> frozenset[int] | None:
    account = g.console_session.account
    return account.stores if account.role in STORE_SCOPED else None


def _answers_of(survey_ids: list[int]) -> Select[Any]:
    """The brand's answers to these surveys, narrowed to a store manager's stores."""
    statement = select(NpsAnswer).where(NpsAnswer.brand_id == g.console_session.account.brand_id,
                                        NpsAnswer.survey_id.in_(survey_ids))
    stores = _stores_limit()
    if stores is not None:
        statement = statement.where(NpsAnswer.store_id.in_(sorted(stores)))
    return statement


def scores(survey_ids: list[int]) -> dict[int, Score]:
    """Each survey's counts (one query for the list)."""
    if not survey_ids:
        return {}
    answers = _answers_of(survey_ids).subquery()
    rows = db.session().execute(select(
        answers.c.survey_id, func.count(),
        func.sum(case((answers.c.score >= 9, 1), else_=0)),
        func.sum(case(((answers.c.score >= 7) & (answers.c.score <= 8), 1), else_=0)),
        func.sum(case((answers.c.score <= 6, 1), else_=0))).group_by(answers.c.survey_id))
    return {survey_id: Score(count, int(promoters or 0), int(passives or 0), int(detractors or 0))
            for survey_id, count, promoters, passives, detractors in rows}


def state_of(survey: NpsSurvey) -> str:
    now = utcnow()
    if survey.starts_at > now:
        return "planned"
    return "running" if survey.ends_at is None or survey.ends_at > now else "ended"


def _may_change() -> bool:
    return CHANGE_PERMISSION in permissions_of(g.console_session.account.role)


@bp.get("/console/nps")
@signed_in("read")
def index() -> Response:
    brand_id = g.console_session.account.brand_id
    session = db.session()
    surveys = list(session.execute(select(NpsSurvey, Program.name).join(Program, Program.id == NpsSurvey.program_id)
                                   .where(NpsSurvey.brand_id == brand_id).order_by(NpsSurvey.id.desc()).limit(200)))
    programs = list(session.scalars(select(Program).where(Program.brand_id == brand_id).order_by(Program.id)))
    return render("nps_console/surveys.html", surveys=surveys, scores=scores([s.id for s, _ in surveys]),
                  state_of=state_of, programs=programs, may_change=_may_change(),
                  store_scoped=_stores_limit() is not None)


@bp.get("/console/nps/<int:survey_id>")
@signed_in("read")
def answers(survey_id: int) -> Response:
    session = db.session()
    survey = session.get(NpsSurvey, survey_id)
    if survey is None or survey.brand_id != g.console_session.account.brand_id:
        abort(404)
    only_comments = request.args.get("comments") == "1"
    before = request.args.get("before", type=int)
    statement = _answers_of([survey.id])
    if only_comments:
        statement = statement.where(NpsAnswer.comment.is_not(None), NpsAnswer.comment != "")
    if before:
        statement = statement.where(NpsAnswer.id < before)
    rows = list(session.execute(statement.add_columns(Store.name).outerjoin(Store, Store.id == NpsAnswer.store_id)
                                .order_by(NpsAnswer.id.desc()).limit(PAGE_SIZE + 1)))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    program = session.get(Program, survey.program_id)
    return render("nps_console/answers.html", survey=survey, program=program, state=state_of(survey),
                  score=scores([survey.id]).get(survey.id, Score(0, 0, 0, 0)), rows=rows,
                  next_before=rows[-1][0].id if more else None, only_comments=only_comments,
                  may_change=_may_change(), store_scoped=_stores_limit() is not None)
