"""The console's stores page (/console/stores): the brand's stores, their position, lock-screen
text and beacon; adding, changing and removing one.

Reads are rendered here from the models (a store manager sees only their stores, as the API's
reads do); every change is a call from the browser to /api/v1/stores (console.js data-api forms),
so the console offers nothing the API does not.

The map: by default no request leaves our origin, so the page draws the stores' positions
itself (service/stores/plot.py, SVG). Only when the operator names a tile server (MAP_TILE_URL)
does the page load the vendored Leaflet and let that one origin into its img-src, and a click
on the map fills the form's coordinates.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g
from sqlalchemy import func, select

from service.access.roles import STORE_SCOPED
from service.access.store_scope import visible
from service.console import sections, words
from service.console.guard import language, render, signed_in
from service.models import Cashier, Store, Till
from service.platform import db
from service.platform.config import tile_origin
from service.stores import plot

bp = Blueprint("stores_page", __name__, template_folder="templates",
               static_folder="static", static_url_path="/static/stores")
sections.add(sections.Section("stores_page.index", "nav_stores", "read", 50, "/console/stores"))

words.add({
    "nav_stores": ("Stores", "Магазины"),
    "stores_title": ("Stores", "Магазины"),
    "stores_intro": ("Passes show the stores nearest their holder on the lock screen, with the text below; "
                     "every change here updates the brand's passes.",
                     "Карты показывают на экране блокировки ближайшие магазины с этим текстом; "
                     "каждое изменение здесь обновляет карты бренда."),
    "stores_none": ("No stores yet.", "Магазинов пока нет."),
    "stores_name": ("Name", "Название"),
    "stores_address": ("Address", "Адрес"),
    "stores_latitude": ("Latitude", "Широта"),
    "stores_longitude": ("Longitude", "Долгота"),
    "stores_position": ("Position", "Координаты"),
    "stores_relevant_text": ("Lock-screen text", "Текст на экране блокировки"),
    "stores_relevant_hint": ("Shown when a holder is near the store (up to 200 characters).",
                             "Показывается, когда владелец карты рядом с магазином (до 200 символов)."),
    "stores_time_zone": ("Time zone (optional)", "Часовой пояс (необязательно)"),
    "stores_time_zone_hint": ("An IANA name such as Europe/Berlin: the quiet hours of customers whose home store this "
                              "is (campaigns' messaging rules); empty: the program's.",
                              "Название IANA, например Europe/Moscow: тихие часы клиентов, для которых это домашний "
                              "магазин (правила рассылок); пусто — часовой пояс программы."),
    "stores_beacon": ("Beacon", "Маячок"),
    "stores_beacon_legend": ("iBeacon in the store (optional)", "iBeacon в магазине (необязательно)"),
    "stores_beacon_uuid": ("Beacon UUID", "UUID маячка"),
    "stores_beacon_major": ("Major", "Major"),
    "stores_beacon_minor": ("Minor", "Minor"),
    "stores_beacon_hint": ("Major and minor (0-65535) need the UUID.", "Для major и minor (0-65535) нужен UUID."),
    "stores_add": ("Add a store", "Добавить магазин"),
    "stores_save": ("Save the store", "Сохранить магазин"),
    "stores_edit": ("Change", "Изменить"),
    "stores_edit_title": ("Store: {name}", "Магазин: {name}"),
    "stores_remove": ("Remove the store", "Удалить магазин"),
    "stores_remove_confirm": ("Remove this store? Passes stop showing it.",
                              "Удалить магазин? Карты перестанут его показывать."),
    "stores_remove_blocked": ("Cashiers or tills work here ({n}); a store with cashiers or past purchases stays.",
                              "Здесь работают кассиры или кассы ({n}); магазин с кассирами или покупками "
                              "не удаляется."),
    "stores_back": ("All stores", "Все магазины"),
    "stores_map": ("Where they are", "Где они"),
    "stores_map_plain": ("The stores' positions relative to each other, drawn here (no map service is used); "
                         "north is up. Farthest apart: {km} km.",
                         "Расположение магазинов относительно друг друга, нарисовано здесь (без картографического "
                         "сервиса); север сверху. Самые дальние друг от друга: {km} км."),
    "stores_map_label": ("Plot of the stores' positions", "Схема расположения магазинов"),
    "stores_map_pick": ("Click the map to set the coordinates.", "Щёлкните по карте, чтобы задать координаты."),
    "stores_map_tiles": ("Map of the stores", "Карта магазинов"),
    "stores_not_found": ("No such store in your brand.", "В вашем бренде нет такого магазина."),
    "stores_read_only": ("Your role can look, not change stores.", "Ваша роль может смотреть, но не менять магазины."),
    "stores_created": ("Store added.", "Магазин добавлен."),
})


def _limit_to_my_stores() -> None:
    """g.store_ids as the API's console principal sets it, so `store_scope.visible` reads the same rows."""
    account = g.console_session.account
    g.store_ids = account.stores if account.role in STORE_SCOPED else None


def _stores() -> list[Store]:
    _limit_to_my_stores()
    brand_id = g.console_session.account.brand_id
    statement = visible(select(Store).where(Store.brand_id == brand_id), Store.id).order_by(Store.id).limit(1000)
    return list(db.session().scalars(statement))


def _map_context(stores: list[Store]) -> dict[str, Any]:
    """What the page needs to draw the map: the tile server (if any) or the SVG dots."""
    settings = current_app.config["PASSCAST"]
    points = [(store.name, store.latitude, store.longitude) for store in stores]
    return {"tile_url": settings.map_tile_url, "tile_attribution": settings.map_tile_attribution,
            "dots": plot.place(points), "plot": plot, "span_km": round(plot.span_km(points), 1),
            "map_points": [{"id": store.id, "name": store.name, "lat": store.latitude, "lon": store.longitude}
                           for store in stores]}


def _with_tiles(response: Response) -> Response:
    """Let the configured tile server's origin into this page's img-src (and no other page's)."""
    url = current_app.config["PASSCAST"].map_tile_url
    if url:
        policy = response.headers["Content-Security-Policy"]
        response.headers["Content-Security-Policy"] = policy.replace(
            "img-src 'self' data: blob:", f"img-src 'self' data: blob: {tile_origin(url)}", 1)
    return response


@bp.get("/console/stores")
@signed_in("read")
def index() -> Response:
    stores = _stores()
    return _with_tiles(render("stores/index.html", stores=stores, **_map_context(stores)))


@bp.get("/console/stores/<int:store_id>")
@signed_in("read")
def edit(store_id: int) -> Response:
    _limit_to_my_stores()
    store = db.session().scalar(visible(select(Store).where(Store.brand_id == g.console_session.account.brand_id,
                                                            Store.id == store_id), Store.id))
    if store is None:
        return render("console/message.html", 404, message=words.words_for(language())["stores_not_found"])
    session = db.session()
    staff = ((session.scalar(select(func.count()).select_from(Cashier).where(Cashier.store_id == store.id)) or 0)
             + (session.scalar(select(func.count()).select_from(Till)
                               .where(Till.store_id == store.id, Till.revoked_at.is_(None))) or 0))
    return _with_tiles(render("stores/edit.html", store=store, staff=staff, **_map_context([store])))
