"""Sessions: ids, per-session generation counters, interrupts, persistence (reference §2)."""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# Looks like SwarmUI's `Utilities.VaryID` (assembly version + suffix), marked as the emulator.
VERSION = "0.9.8.2.EMULATOR"

# The local owner has role `owner`: "*" plus every registered permission id (reference §2.1, §7).
PERMISSIONS = [
    "*",
    "fundamental",
    "fundamental_generate_tab_access",
    "fundamental_model_access",
    "basic_image_generation",
    "view_image_history",
    "user_delete_image",
    "user_star_images",
    "manage_presets",
    "read_server_info_panels",
    "param_model",
    "param_backend_type",
    "param_backend_id",
    "edit_wildcards",
    "download_models",
    "edit_model_metadata",
    "delete_models",
    "load_models_now",
    "control_model_refresh",
    "view_backends_list",
    "restart_backends",
    "add_remove_backends",
    "edit_backends",
    "toggle_backends",
    "view_others_outputs",
    "local_image_folder",
    "install",
    "manage_users",
]

COUNTERS = ("waiting_gens", "loading_models", "waiting_backends", "live_gens")


@dataclass
class Session:
    """One session id of one user, with the live generation counts `GetCurrentStatus` shows."""

    id: str
    user_id: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    interrupt_epoch: int = 0

    def status_counts(self) -> dict[str, int]:
        return {name: max(0, self.counts[name]) for name in COUNTERS}

    def interrupt(self) -> None:
        """Cancel every generation that started before now (`Session.Interrupt`)."""
        self.interrupt_epoch += 1

    def claim(self, *, gens: int = 0) -> GenClaim:
        return GenClaim(self, gens)


class GenClaim:
    """Counts one request's work into its session's counters (`Session.GenClaim`)."""

    def __init__(self, session: Session, gens: int) -> None:
        self.session = session
        self.epoch = session.interrupt_epoch
        self.held = dict.fromkeys(COUNTERS, 0)
        self.local_cancel = False
        self.extend(waiting_gens=gens)

    @property
    def waiting_gens(self) -> int:
        return self.held["waiting_gens"]

    @property
    def should_cancel(self) -> bool:
        return self.local_cancel or self.session.interrupt_epoch != self.epoch

    def extend(self, **amounts: int) -> None:
        for name, amount in amounts.items():
            self.held[name] += amount
            self.session.counts[name] += amount

    def complete(self, **amounts: int) -> None:
        for name, amount in amounts.items():
            amount = min(amount, self.held[name])
            self.held[name] -= amount
            self.session.counts[name] -= amount

    def release(self) -> None:
        self.complete(**self.held)


class SessionStore:
    """All sessions, persisted to `Data/` so a restart keeps them, like SwarmUI's `Users.ldb`."""

    def __init__(self, data_dir: Path) -> None:
        self.server_id = str(uuid.uuid4())  # new per process start (reference §2.1)
        self._file = data_dir / "emulator_sessions.json"
        self._sessions: dict[str, Session] = {}
        self._request_ids: dict[str, int] = {}
        self._load()

    def create(self, user_id: str) -> Session:
        session = Session(id=secrets.token_hex(20), user_id=user_id)  # 40 lower-case hex
        self._sessions[session.id] = session
        self._save()
        return session

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def all(self) -> list[Session]:
        return list(self._sessions.values())

    def of_user(self, user_id: str) -> list[Session]:
        return [s for s in self._sessions.values() if s.user_id == user_id]

    def forget_all(self) -> None:
        """Make every session id unknown (the `forget_sessions` fault)."""
        self._sessions.clear()
        self._save()
        log.info("All sessions forgotten")

    def next_request_id(self, user_id: str) -> int:
        """Per-user incrementing request counter (`request_id` in generation messages)."""
        self._request_ids[user_id] = self._request_ids.get(user_id, 0) + 1
        return self._request_ids[user_id]

    def _load(self) -> None:
        if not self._file.exists():
            return
        try:
            saved = json.loads(self._file.read_text())
        except (OSError, ValueError) as err:
            log.warning("Ignoring unreadable %s: %s", self._file, err)
            return
        for session_id, user_id in saved.items():
            self._sessions[session_id] = Session(id=session_id, user_id=user_id)

    def _save(self) -> None:
        self._file.parent.mkdir(parents=True, exist_ok=True)
        temp = self._file.with_suffix(".tmp")
        temp.write_text(json.dumps({s.id: s.user_id for s in self._sessions.values()}))
        temp.replace(self._file)
