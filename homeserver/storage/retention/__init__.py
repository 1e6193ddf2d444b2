"""Storage of retention: what events reference, self-destruct timers, purges, room lifetimes."""
