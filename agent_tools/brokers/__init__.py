"""Brokers behind one interface: the simulated one for replays and paper trading, Alpaca for a real account."""
