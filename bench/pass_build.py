"""Build and sign N distinct Apple Wallet passes in one process; compare with signing alone.

Runs the service's own render path on transient (never persisted) SQLAlchemy models:
``service.apple.pass_files.render``, i.e. ``build_pkpass(build_pass(card, url),
program_files(program, tier), signer)``, with the signer ``service.apple.signing.signer_for``
loads from a dev PKI made in a temporary directory. In the same run it times
``PassSigner.sign`` alone over the very manifests those passes carry: the RSA signature
is the floor no pass build can beat. Builds and signature-only runs alternate in rounds
so that CPU frequency changes and noisy neighbours hit both alike; warm-up passes are
excluded from both.

    .venv/bin/python bench/pass_build.py [--n 2000] [--rounds 10] [--warmup 50]

Target: ratio = passes_per_s / sign_only_per_s >= 0.75 (issue 18). The last line printed is one
JSON object ``{"passes_per_s": .., "sign_only_per_s": .., "ratio": ..}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from passes.cardcode import decode_card_code  # noqa: E402
from passes.certificates import ensure_dev_pki  # noqa: E402
from passes.package import check_manifest, read_pkpass  # noqa: E402
from passes.signing import PassSigner  # noqa: E402
from service.apple import pass_files, signing  # noqa: E402
from service.design.card_design import program_files  # noqa: E402
from service.loyalty.cards import touch  # noqa: E402
from service.models import Brand, Card, Customer, PassFile, Program, SigningCertificate, Store, Tier  # noqa: E402

PASS_TYPE_IDENTIFIER = "pass.dev.passcast.loyalty"
TEAM_IDENTIFIER = "PASSCASTDV"
WEB_SERVICE_URL = "https://passcast.example.com/passkit"
TARGET_RATIO = 0.75
BRAND_REF, BRAND_SECRET = "BNCH01", b"bench-secret-0123456789abcdef012"
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)

FIRST_NAMES = ["Anna", "Boris", "Chloé", "Dmitri", "Eva", "Fatima", "Grégoire", "Hana", "Иван", "Юлия", "Zoë"]
LAST_NAMES = ["Ivanova", "Müller", "O'Brien", "Петров", "García", "Nakamura", "Smith", "Dubois", "Kowalski"]


def signing_row(directory: Path) -> SigningCertificate:
    """A dev PKI in ``directory``, as the service keeps certificates (PEM in a row)."""
    certificate = ensure_dev_pki(directory, PASS_TYPE_IDENTIFIER, TEAM_IDENTIFIER).certificate
    pem = serialization.Encoding.PEM
    key = certificate.private_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption())
    return SigningCertificate(
        id=900_001, brand_id=1, pass_type_identifier=PASS_TYPE_IDENTIFIER, team_identifier=TEAM_IDENTIFIER,
        certificate_pem=certificate.certificate.public_bytes(pem), private_key_pem=key,
        wwdr_pem=certificate.wwdr.public_bytes(pem), not_after=certificate.not_after, is_dev=True,
    )


def make_program(certificate: SigningCertificate) -> Program:
    """Brand, three stores, a points program with a Gold tier in its own colours."""
    brand = Brand(id=1, name="Bench Coffee", slug="bench-coffee", code_ref=BRAND_REF, code_secret=BRAND_SECRET)
    brand.stores = [
        Store(id=1, brand_id=1, name="Bench Coffee Centre", address="1 Main St", latitude=52.5200,
              longitude=13.4050, relevant_text="Bench Coffee Centre is around the corner: show your card."),
        Store(id=2, brand_id=1, name="Bench Coffee Station", address="2 Station Rd", latitude=52.5251,
              longitude=13.3694, relevant_text=None),
        Store(id=3, brand_id=1, name="Bench Coffee Park", address="3 Park Ave", latitude=52.4862,
              longitude=13.4250, relevant_text="Bench Coffee Park: coffee to go."),
    ]
    program = Program(
        id=1, brand_id=1, name="Bench Coffee Rewards", kind="points", description="Bench Coffee loyalty card",
        terms="1 euro spent = 10 points. 100 points = one free coffee. Points expire after 12 months.",
        currency="EUR", points_per_unit=Decimal(10), rounding="down", cashback_percent=Decimal(0),
        discount_percent=Decimal(0), tier_basis="lifetime_points",
        background_color="#3b2417", foreground_color="#ffffff", label_color="#e8c9a0",
        logo_png=None, icon_png=None, strip_png=None,
        pass_type_identifier=PASS_TYPE_IDENTIFIER, team_identifier=TEAM_IDENTIFIER,
        certificate_id=certificate.id,
    )
    program.brand, program.certificate = brand, certificate
    program.tiers = [
        Tier(id=1, program_id=1, name="Gold", threshold=Decimal(1000), earn_multiplier=Decimal("1.5"),
             discount_percent=None, background_color="#8a6d1d", foreground_color="#ffffff",
             label_color="#fff1c1", strip_png=None),
    ]
    return program


def make_cards(program: Program, start: int, count: int) -> list[Card]:
    """``count`` cards with distinct serial, balance, holder name and card number (barcode)."""
    stores, gold = program.brand.stores, program.tiers[0]
    cards = []
    for i in range(start, start + count):
        name = f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {LAST_NAMES[i % len(LAST_NAMES)]} #{i}"
        customer = Customer(id=i + 1, brand_id=1, name=name, language="ru" if i % 3 == 0 else "en")
        customer.home_store = stores[i % len(stores)]
        is_gold = i % 5 == 0
        card = Card(
            id=i + 1, program_id=program.id, customer_id=customer.id, brand_id=1,
            number=100_000_000 + i * 7919,
            serial_number=str(uuid.UUID(int=0xBE7C4 << 64 | i)),
            authentication_token=f"bench-token-{i:020d}",
            balance=(i * 37) % 5000 + i, lifetime_points=i * 41, lifetime_spend=Decimal(i * 3) / 4,
            tier="Gold" if is_gold else None, tier_id=gold.id if is_gold else None,
            points_expire_at=NOW + dt.timedelta(days=30 + i % 300) if i % 2 else None,
            news=f"Double points this week, card {i}!" if i % 4 == 0 else None,
            voided=False, version=1, updated_at=NOW, created_at=NOW,
        )
        card.program, card.customer, card.current_tier = program, customer, gold if is_gold else None
        cards.append(card)
    return cards


def build_one(card: Card) -> bytes:
    """The service's render: build_pass + program_files + build_pkpass, signer_for's signer."""
    return pass_files.render(card, WEB_SERVICE_URL)


def time_builds(cards: list[Card]) -> tuple[float, list[bytes]]:
    out: list[bytes] = []
    append = out.append
    start = time.perf_counter()
    for card in cards:
        append(build_one(card))
    return time.perf_counter() - start, out


def time_signs(manifests: list[bytes], signer: PassSigner) -> float:
    sign = signer.sign
    start = time.perf_counter()
    for manifest in manifests:
        sign(manifest)
    return time.perf_counter() - start


def check_round(cards: list[Card], pkpasses: list[bytes], seen: set[bytes]) -> list[bytes]:
    """Untimed: every pass is well-formed and distinct; returns the manifests to sign."""
    manifests = []
    for card, data in zip(cards, pkpasses, strict=True):
        files = read_pkpass(data)
        check_manifest(files)
        pass_json = json.loads(files["pass.json"])
        code = decode_card_code(pass_json["barcodes"][0]["message"], {BRAND_REF: BRAND_SECRET}.get)
        if pass_json["serialNumber"] != card.serial_number or code.card_number != card.number:
            raise AssertionError(f"pass {card.serial_number} does not show its own card")
        if files["pass.json"] in seen:
            raise AssertionError(f"pass {card.serial_number} is not distinct")
        seen.add(files["pass.json"])
        manifests.append(files["manifest.json"])
    return manifests


class CountingSigner:
    """Wraps the real signer to count signatures."""

    def __init__(self, signer: PassSigner) -> None:
        self.signer, self.count = signer, 0

    def sign(self, data: bytes) -> bytes:
        self.count += 1
        return self.signer.sign(data)


def check_stored_passes_are_not_signed_again(program: Program, cards: list[Card]) -> tuple[int, int, int, float]:
    """service.apple.pass_files.current against an in-memory pass_files table: sign once per version.

    Returns (signatures on first fetch, on a second fetch, after a change, stored fetches/s).
    """
    engine = create_engine("sqlite://")
    PassFile.__table__.create(engine)
    real = signing.signer_for(program)
    counter = CountingSigner(real)
    key = (program.certificate.id, program.certificate.certificate_pem)  # signing.signer_for's cache key
    signing._signers[key] = counter  # type: ignore[assignment]
    try:
        with Session(engine) as session:
            first = [pass_files.current(session, card, WEB_SERVICE_URL).data for card in cards]
            signed_first, counter.count = counter.count, 0
            start = time.perf_counter()
            again = [pass_files.current(session, card, WEB_SERVICE_URL).data for card in cards]
            served_per_s = len(cards) / (time.perf_counter() - start)
            signed_again, counter.count = counter.count, 0
            if again != first:
                raise AssertionError("a stored pass was served with different bytes")
            touch(cards[0], NOW + dt.timedelta(days=1))  # what a balance change does
            pass_files.current(session, cards[0], WEB_SERVICE_URL)
            signed_after_change = counter.count
    finally:
        signing._signers[key] = real
        engine.dispose()
    return signed_first, signed_again, signed_after_change, served_per_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="distinct passes to time (default 2000)")
    parser.add_argument("--rounds", type=int, default=10, help="build/sign alternations (default 10)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed passes first (default 50)")
    args = parser.parse_args(argv)
    if args.n < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--n and --rounds must be positive, --warmup not negative")
    rounds = min(args.rounds, args.n)

    with tempfile.TemporaryDirectory(prefix="passcast-bench-") as tmp:
        program = make_program(signing_row(Path(tmp) / "certs"))
    signer = signing.signer_for(program)  # the PassSigner render uses (loaded once, cached)
    warm_cards = make_cards(program, 0, args.warmup)
    cards = make_cards(program, args.warmup, args.n)

    # Warm-up: program_files renders the images once per process, as in the service.
    seen: set[bytes] = set()
    if warm_cards:
        _, warm = time_builds(warm_cards)
        time_signs(check_round(warm_cards, warm, seen), signer)

    chunks = [cards[r * args.n // rounds:(r + 1) * args.n // rounds] for r in range(rounds)]
    build_time = sign_time = 0.0
    sizes: list[int] = []
    for chunk in chunks:
        gc.collect()
        elapsed, pkpasses = time_builds(chunk)
        build_time += elapsed
        manifests = check_round(chunk, pkpasses, seen)
        sizes.extend(len(p) for p in pkpasses)
        gc.collect()
        sign_time += time_signs(manifests, signer)

    stored_cards = make_cards(program, args.warmup + args.n, min(args.n, 200))
    signed_first, signed_again, signed_after_change, served_per_s = check_stored_passes_are_not_signed_again(
        program, stored_cards)

    passes_per_s = args.n / build_time
    sign_only_per_s = args.n / sign_time
    ratio = passes_per_s / sign_only_per_s
    overhead = build_time / sign_time - 1
    print(f"passes built+signed  : {args.n} distinct ({args.warmup} warm-up excluded), {rounds} rounds")
    print(f"pkpass size          : {min(sizes)}-{max(sizes)} bytes, {len(program_files(program))} resource files each")
    print(f"full build + sign    : {build_time:.3f} s  {passes_per_s:8.1f} passes/s  "
          f"{1e3 * build_time / args.n:.3f} ms/pass")
    print(f"signature only       : {sign_time:.3f} s  {sign_only_per_s:8.1f} signs/s   "
          f"{1e3 * sign_time / args.n:.3f} ms/sign")
    print(f"build+zip overhead   : {100 * overhead:+.1f} % over signing "
          f"({1e3 * (build_time - sign_time) / args.n:.3f} ms/pass)")
    stored_ok = (signed_first, signed_again, signed_after_change) == (len(stored_cards), 0, 1)
    print(f"stored, unchanged    : {signed_again} signatures for {len(stored_cards)} fetches "
          f"({served_per_s:.0f} fetches/s; {signed_first} on first fetch, {signed_after_change} after a change) "
          f"{'OK' if stored_ok else 'FAIL'}")
    verdict = "OK" if ratio >= TARGET_RATIO else "BELOW TARGET"
    print(f"ratio                : {ratio:.3f} (target >= {TARGET_RATIO:.2f}) {verdict}")
    print(json.dumps({"passes_per_s": round(passes_per_s, 1), "sign_only_per_s": round(sign_only_per_s, 1),
                      "ratio": round(ratio, 3)}))
    return 0 if stored_ok else 1


if __name__ == "__main__":
    sys.exit(main())
