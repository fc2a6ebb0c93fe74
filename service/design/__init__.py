"""What a card shows, for both wallets: fields, labels, colours, images, locations.

Apple's pass.json is built from it and Google's objects take the same fields. Other
concerns add back fields through `card_design.register_back_fields` (no import back up)."""
