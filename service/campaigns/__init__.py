"""Campaigns: messages to an audience, geo campaigns, back-in-stock notices, birthdays.

- `segments`: an audience description -> a SQL condition on cards (and its validation).
- `sending`: the resumable, batched send of a message campaign.
- `geo`: starting and ending geo campaigns (relevant text near chosen stores).
- `restock`: product subscriptions and restock events.
- `birthday`: the daily birthday points and message.
- `report`: what happened to a campaign's pushes, per platform.
- `holdout`: who is kept back (a hash of salt and card id), and who could be reached.
- `outcomes`: what the cards bought afterwards: conversions among the reached, the two groups.
- `lift`: the arithmetic of the difference (95 % intervals, incremental revenue, ROMI).
- `tasks`: the periodic jobs that drive all of the above.
"""
