"""The emulator's configuration, read once from the command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the command line sets; faults given here are only the starting state."""

    volume: Path
    host: str = "127.0.0.1"
    port: int = 7801
    step_delay: float = 0.02
    boot_delay: float = 0.0
    user: str = "local"
    backend_status: str | None = None
    drop_ws_after_steps: int | None = None
    download_delay: float = 0.0
    download_fail_rate: float = 0.0
    forget_sessions_every: float | None = None

    @property
    def swarm_root(self) -> Path:
        """`VOLUME/SwarmUI`, laid out like a real install (reference §8.1)."""
        return self.volume / "SwarmUI"

    @property
    def models_root(self) -> Path:
        return self.swarm_root / "Models"

    @property
    def output_root(self) -> Path:
        return self.swarm_root / "Output"

    @property
    def data_root(self) -> Path:
        return self.swarm_root / "Data"
