"""Push: push rules and the unread notification counts they produce."""
