"""SwarmDeck GPU worker: the RunPod handler in front of SwarmUI (never imports Django)."""

__version__ = "0.1.0"
