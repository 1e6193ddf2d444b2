"""Types and helpers every service domain shares: the requester, stream tokens, the /sync wake-up notifier, rate limits, parameter checks."""
