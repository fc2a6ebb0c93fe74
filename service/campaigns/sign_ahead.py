"""A campaign's passes signed ahead of the phones' fetches, by every worker, not the campaign's thread.

A pushed phone fetches its new pass at once; if the fetch had to sign it, a million phones
would make RSA on the web side the bottleneck. So each committed batch's passes are signed and
stored first, and a card's pushes are held until its pass is stored (service/push/outbox.py
`hold`/`release`). The campaign runs as one job on one thread (its lease keeps it there), so
signing on that thread capped one campaign at what one core builds and signs. Instead the
campaign cuts each batch into chunks of SIGN_CHUNK cards and hands each chunk, with its held
pushes, to a job on the `signing` queue, which any thread of any worker process takes: one
campaign's signing spreads over every worker core there is.

Nothing waits forever on a signer: a chunk whose signing fails releases its pushes anyway (the
phones' fetches sign what is missing), and pushes held by a signer that died stay "queued" for
the push sweeper, which sends them after LOST_AFTER. The campaign keeps at most `window` of its
pushes waiting (`keep_within`), so it never runs minutes ahead of its signers and senders: the
pushes go out at the pace passes are signed and sent, and the held ones are released well before
the sweeper would take them.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import PushDelivery
from service.push import outbox
from service.push.delivery import LOST_AFTER

log = logging.getLogger(__name__)

#: Cards per signing job: the first phones are pushed after a hundred signatures, not a batch's worth.
SIGN_CHUNK = 100
#: How often `keep_within` looks again.
POLL_SECONDS = 0.05
#: Longest `keep_within` waits before the campaign goes on anyway (signers busy or absent): well
#: under LOST_AFTER, so the held pushes go on release, not by the sweeper.
MAX_WAIT_SECONDS = LOST_AFTER.total_seconds() / 2

#: Signs and stores the current passes of these cards in the given session (the caller commits).
Sign = Callable[[Session, list[int]], None]
#: Hands one chunk, (card ids, ids of their held pushes), to whoever signs it and then releases
#: the pushes: a job on the signing queue in the worker (`sign_then_release` in that job).
Dispatch = Callable[[list[int], list[int]], None]


def hand_out(session: Session, dispatch: Dispatch, card_ids: Sequence[int], pushes: Sequence[int]) -> int:
    """After the batch's commit: its cards in chunks, each with its held pushes, to `dispatch`;
    pushes of cards not in `card_ids` (none today) are released at once. Returns the chunks."""
    by_card: dict[int, list[int]] = defaultdict(list)
    for start in range(0, len(pushes), outbox.BATCH):
        for delivery_id, card_id in session.execute(select(PushDelivery.id, PushDelivery.card_id)
                                                    .where(PushDelivery.id.in_(pushes[start:start + outbox.BATCH]))):
            by_card[card_id].append(delivery_id)
    session.rollback()  # a read-only transaction: not held open while the chunks are signed
    chunks = 0
    for start in range(0, len(card_ids), SIGN_CHUNK):
        chunk = list(card_ids[start:start + SIGN_CHUNK])
        dispatch(chunk, [delivery_id for card_id in chunk for delivery_id in by_card.pop(card_id, ())])
        chunks += 1
    outbox.release(sorted(delivery_id for ids in by_card.values() for delivery_id in ids))
    return chunks


def sign_then_release(session: Session, sign: Sign, card_ids: list[int], delivery_ids: list[int]) -> bool:
    """One chunk: sign and store its passes (committed), then let its pushes go. A failure to sign
    holds nothing back: the pushes go anyway. Returns whether the passes were stored."""
    try:
        sign(session, card_ids)
        session.commit()
        stored = True
    except Exception:  # noqa: BLE001 - signing ahead is an optimisation, never a reason to hold pushes
        session.rollback()
        log.exception("signing ahead failed for %d cards; their fetches will sign", len(card_ids))
        stored = False
    outbox.release(delivery_ids)
    return stored


def _more_waiting_than(session: Session, campaign_id: int, window: int) -> bool:
    """Whether over `window` of the campaign's pushes are still queued (held for signing, or released
    and not yet claimed by a sender). Reads the queued part of the status index, which holds only
    what is waiting now, not the campaign's million rows."""
    found = session.scalar(select(PushDelivery.id)
                           .where(PushDelivery.status == "queued", PushDelivery.campaign_id == campaign_id)
                           .offset(window).limit(1))
    session.rollback()
    return found is not None


def keep_within(session: Session, campaign_id: int, window: int, *, max_wait: float = MAX_WAIT_SECONDS,
                clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> bool:
    """Before the campaign's next batch: wait until at most `window` of its pushes are waiting.
    Returns False if `max_wait` passed first (then the campaign goes on: signers or senders are
    missing or far behind, and the sweeper sends what they leave)."""
    deadline = clock() + max_wait
    while _more_waiting_than(session, campaign_id, window):
        if clock() >= deadline:
            log.warning("campaign %s: over %d pushes still waiting after %.0f s; is a worker consuming the "
                        "signing and push queues?", campaign_id, window, max_wait)
            return False
        sleep(POLL_SECONDS)
    return True
