"""The demo brand, "Demo Coffee": what `make run` shows on a fresh machine.

Idempotent: each run creates only what is missing. Secrets are stored hashed, so the
plaintext demo API key and cashier token are kept in instance/demo-credentials.json
(development only) to be printed again on later runs.
"""

from __future__ import annotations

import json
import secrets as pysecrets
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.access import accounts, passwords
from service.apple import signing
from service.google_wallet.dev_account import ensure_google_service_account
from service.loyalty import engine as loyalty
from service.models import ApiKey, Brand, Cashier, Program, StaffAccount, Store, Tier
from service.platform import secrets
from service.platform.config import Settings

DEMO_SLUG = "demo-coffee"
DEMO_STORES = (
    ("Demo Coffee Centraal", "Stationsplein 1, Amsterdam", 52.3791, 4.9003),
    ("Demo Coffee Jordaan", "Westerstraat 100, Amsterdam", 52.3780, 4.8820),
    ("Demo Coffee De Pijp", "Albert Cuypstraat 150, Amsterdam", 52.3557, 4.8947),
)
# name, lifetime points to reach it, earn multiplier. No colours: every tier keeps the brand's
# (a Silver card of a brown coffee brand stays brown); the pass's Tier field marks the tier.
DEMO_TIERS = (
    ("Silver", 100, Decimal("1.00")),
    ("Gold", 500, Decimal("1.25")),
    ("Platinum", 1500, Decimal("1.50")),
)
DEMO_POINTS_EXPIRE_DAYS = 365
DEMO_REFERRAL_POINTS = 50


def create_brand(session: Session, name: str, slug: str) -> Brand:
    code_ref = slug.replace("-", "")[:4].upper() + pysecrets.token_hex(2).upper()
    brand = Brand(name=name, slug=slug, code_ref=code_ref, code_secret=pysecrets.token_bytes(32))
    session.add(brand)
    session.flush()
    return brand


def create_api_key(session: Session, brand: Brand, name: str = "default") -> str:
    secret = secrets.new_secret("pk")
    session.add(ApiKey(brand_id=brand.id, name=name, prefix=secret.prefix, secret_hash=secret.digest))
    return secret.value


def create_cashier(session: Session, brand: Brand, name: str, store: Store | None) -> str:
    secret = secrets.new_secret("ct")
    session.add(Cashier(brand_id=brand.id, store_id=store.id if store else None, name=name,
                        token_prefix=secret.prefix, token_hash=secret.digest))
    return secret.value


def _credentials(settings: Settings) -> tuple[Path, dict[str, str]]:
    path = settings.instance_dir / "demo-credentials.json"
    return path, json.loads(path.read_text()) if path.exists() else {}


def _valid(session: Session, value: str | None, kind: str) -> bool:
    if not value:
        return False
    prefix = secrets.prefix_of(value, kind)
    model = ApiKey if kind == "pk" else Cashier
    column = ApiKey.prefix if kind == "pk" else Cashier.token_prefix
    row = session.scalar(select(model).where(column == prefix))
    digest = getattr(row, "secret_hash", None) or getattr(row, "token_hash", None)
    return row is not None and digest is not None and secrets.matches(value, digest)


def _ensure_demo_tiers(session: Session, program: Program) -> None:
    """Silver/Gold/Platinum and 12-month expiry, once: a brand's later edits are left alone."""
    if session.scalar(select(Tier.id).where(Tier.program_id == program.id).limit(1)) is not None:
        return
    for name, threshold, multiplier in DEMO_TIERS:
        session.add(Tier(program_id=program.id, name=name, threshold=Decimal(threshold), earn_multiplier=multiplier))
    if program.points_expire_days is None:
        program.points_expire_days = DEMO_POINTS_EXPIRE_DAYS
    loyalty.refresh_program(session, program)


DEMO_OWNER_EMAIL = "owner@demo-coffee.example"


def _ensure_owner(session: Session, brand: Brand, saved: dict[str, str]) -> None:
    """The demo brand's owner in the console; a random password, kept with the other demo secrets."""
    owner = session.scalar(select(StaffAccount).where(StaffAccount.email == DEMO_OWNER_EMAIL))
    if owner is not None and saved.get("owner_password") and passwords.verify(owner.password_hash,
                                                                                saved["owner_password"]):
        return
    saved["owner_password"] = pysecrets.token_urlsafe(12)
    if owner is None:
        accounts.create_account(session, brand, DEMO_OWNER_EMAIL, saved["owner_password"], "owner")
    else:
        owner.password_hash = passwords.hash_password(saved["owner_password"])


def seed(session: Session, settings: Settings) -> dict[str, Any]:
    certificate = signing.ensure_dev_certificate(session, settings.certs_dir, settings.dev_pass_type_identifier,
                                                 settings.dev_team_identifier)
    brand = session.scalar(select(Brand).where(Brand.slug == DEMO_SLUG))
    if brand is None:
        brand = create_brand(session, "Demo Coffee", DEMO_SLUG)
    stores = list(session.scalars(select(Store).where(Store.brand_id == brand.id).order_by(Store.id)))
    for name, address, lat, lon in DEMO_STORES[len(stores):]:
        store = Store(brand_id=brand.id, name=name, address=address, latitude=lat, longitude=lon,
                      relevant_text=f"{name} is around the corner: show your card for points.")
        session.add(store)
        stores.append(store)
    session.flush()
    program = session.scalar(select(Program).where(Program.brand_id == brand.id).order_by(Program.id))
    if program is None:
        program = Program(
            brand_id=brand.id, name="Demo Coffee Rewards", kind="points",
            description="Demo Coffee loyalty card", currency="EUR", points_per_unit=Decimal(10),
            # Only what the rules cannot say: earning, tiers and expiry are written from the rules.
            terms="100 points = one free coffee.",
            pass_type_identifier=settings.dev_pass_type_identifier,
            team_identifier=settings.dev_team_identifier, certificate=certificate,
        )
        session.add(program)
        session.flush()
    _ensure_demo_tiers(session, program)
    if program.slug is None:  # the join page /join/demo-coffee, with a referral bonus (once: edits stay)
        program.slug = DEMO_SLUG
        program.referral_points = DEMO_REFERRAL_POINTS

    path, saved = _credentials(settings)
    if not _valid(session, saved.get("api_key"), "pk"):
        saved["api_key"] = create_api_key(session, brand, "demo")
    if not _valid(session, saved.get("cashier_token"), "ct"):
        saved["cashier_token"] = create_cashier(session, brand, "Demo Cashier", stores[0])
    _ensure_owner(session, brand, saved)
    session.commit()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(saved, indent=2))
    path.chmod(0o600)

    service_account = ensure_google_service_account(settings.certs_dir / "dev" / "google-service-account.json")
    return {
        "brand_id": brand.id,
        "api_key": saved["api_key"],
        "program_id": program.id,
        "cashier_token": saved["cashier_token"],
        "console_url": settings.public_base_url.rstrip("/") + "/console",
        "owner_email": DEMO_OWNER_EMAIL,
        "owner_password": saved["owner_password"],
        "store_ids": [store.id for store in stores],
        "dev_ca_file": str(settings.certs_dir / "dev" / "ca.pem"),
        "google_service_account_file": str(service_account),
        "base_url": settings.public_base_url,
        "join_url": f"{settings.public_base_url.rstrip('/')}/join/{program.slug or program.id}",
    }
