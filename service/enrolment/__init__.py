"""Enrolment (issue #7): customers join in one tap, and members move in from other platforms.

- `page.py`: the public join page /join/<program> (form -> card -> wallet buttons), its poster
  and logo; `forms.py` validates the form and its CSRF token; `i18n.py` holds the words.
- `recovery.py`: a phone or email that already has a card gets it back only through a one-time
  link or code sent to it (`recovery_tasks.py` sends it through service/notify as a job).
- `poster.py`: the QR poster for the counter (PNG and PDF); `poster_cache.py` keeps each
  version on disk so it is drawn once.
- `imports.py`: a members CSV -> customers, cards and opening balances, batched and re-runnable;
  `import_tasks.py` runs it as a job, `page.py` registers the `import-members` CLI command.
- Referral bonuses live in `service/loyalty/referrals.py` (called where purchases are posted).
"""
