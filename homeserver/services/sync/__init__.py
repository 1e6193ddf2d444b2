"""/sync: the long-polling sync of rooms, ephemeral and device data."""
