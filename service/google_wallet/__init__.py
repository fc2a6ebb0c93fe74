"""Google Wallet: LoyaltyClass per program, LoyaltyObject per card, kept in step with the card.

- `client`: the Wallet REST API (walletobjects/v1) on service-account credentials.
- `sync`: Program/Card -> class/object JSON, insert before a save link is handed out,
  patch on every change, the save link itself, what the card API shows.
- `tasks`: the sync job queued after each committed change, and the sweeper that retries.
- `messages`: `send_message(...)` for campaigns, within Google's 3 notifying messages a day.
- `callbacks`: Google's signed save/delete callbacks, and the program logo Google fetches.
"""
