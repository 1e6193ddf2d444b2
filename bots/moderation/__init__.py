"""The moderation bot: learns abusive behaviour from the homeserver's request telemetry, flags
abusive IPs (and the spam accounts behind them) within seconds, has the homeserver refuse them
and publishes the bans as a policy list. See `bot.py` for what it does on a flag and its
commands, `features.py` for what it watches, `model.py` for how it learns.

    python -m bots.moderation --homeserver http://localhost:8008 --user mod --password PW
"""
