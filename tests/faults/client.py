"""The REST API as a team member's script uses it: create generations one by one or in a burst."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

SMALL_IMAGE = {"width": 128, "height": 128, "steps": 2, "images": 1}


class DashboardApi:
    def __init__(self, base_url: str, token: str):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        """One session per thread: bursts come from many threads at once."""
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers["Authorization"] = f"Bearer {self.token}"
        return self._local.session

    def generate(self, prompt: str, **params) -> dict:
        body = {"prompt": prompt, **SMALL_IMAGE, **params}
        response = self.session.post(f"{self.base_url}/api/v1/generations", json=body, timeout=60)
        assert response.status_code == 201, response.text
        return response.json()

    def burst(self, count: int, *, label: str, threads: int = 16, **params) -> list[int]:
        """`count` generations sent at once from `threads` threads; their ids, in order."""
        run = uuid.uuid4().hex[:6]

        def one(index: int) -> int:
            return self.generate(f"{label} {run} #{index}", seed=index, **params)["id"]

        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(one, range(count)))

    def get(self, generation_id: int) -> dict:
        response = self.session.get(
            f"{self.base_url}/api/v1/generations/{generation_id}", timeout=30
        )
        assert response.status_code == 200, response.text
        return response.json()

    def retry(self, generation_id: int) -> dict:
        response = self.session.post(
            f"{self.base_url}/api/v1/generations/{generation_id}/retry", timeout=30
        )
        assert response.status_code == 201, response.text
        return response.json()
