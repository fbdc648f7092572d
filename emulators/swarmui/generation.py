"""The generation engine: one request's images and the messages SwarmUI sends about them.

Mirrors `T2IAPI.GenT2I_Internal` and `T2IEngine.CreateImageTask` (reference §3.1, §3.3).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from emulators.swarmui.backend import NoBackendsAvailable
from emulators.swarmui.history import write_side_metadata
from emulators.swarmui.image_metadata import metadata_string, used_models
from emulators.swarmui.outputs import image_extension
from emulators.swarmui.rendering import ImageSpec, data_url, encode
from emulators.swarmui.request_params import GenerationRequest, ParamError, parse_request
from emulators.swarmui.sessions import GenClaim, Session
from emulators.swarmui.state import EmulatorState

log = logging.getLogger(__name__)

WORKFLOW_NODES = 13  # the emulated ComfyUI workflow's node count
NODES_BEFORE_SAMPLER = 6
KEEP_ALIVE_EVERY = 30.0


class Sink(Protocol):
    """Where a request's messages go: a WebSocket, or a list for the HTTP route."""

    is_ws: bool

    async def emit(self, message: dict) -> None: ...

    async def steps_done(self, count: int) -> None: ...


class CollectingSink:
    """Collects messages for `GenerateText2Image` (HTTP)."""

    is_ws = False

    def __init__(self) -> None:
        self.messages: list[dict] = []

    async def emit(self, message: dict) -> None:
        self.messages.append(message)

    async def steps_done(self, count: int) -> None:
        return None


async def generate(
    state: EmulatorState,
    session: Session,
    images: int,
    raw_input: dict,
    batch_offset: int,
    sink: Sink,
) -> None:
    """Run one generation request to the end, emitting everything a client would see."""
    claim = session.claim(gens=images)
    try:
        if sink.is_ws:
            await sink.emit(state.backend.current_status([session]))
        now = datetime.now()  # `T2IParamInput.RequestTime`; its counter ticks even on errors
        request_ref = state.outputs.next_request_ref(now)
        try:
            request = parse_request(raw_input, state.models, now)
        except ParamError as err:
            log.warning("Refused to generate image for %s: %s", session.user_id, err)
            await sink.emit({"error": str(err)})
            return
        job = _Job(state, session, sink, claim, request, request_ref)
        images = request.get("images", 1)
        claim.extend(waiting_gens=images - claim.waiting_gens)
        batch_size = request.get("batchsize", 1)
        log.info("%s requested %d image(s) of %s", session.user_id, images, request.model_name)
        for i in range(images):
            if claim.should_cancel:
                break
            await job.backend_call(i * batch_size + batch_offset, local_index=i * batch_size)
            await sink.emit({"keep_alive": True})
        await sink.emit({"discard_indices": []})
    finally:
        claim.release()


@dataclass
class _Job:
    state: EmulatorState
    session: Session
    sink: Sink
    claim: GenClaim
    request: GenerationRequest
    request_ref: int

    def __post_init__(self) -> None:
        self.request_id = str(self.state.sessions.next_request_id(self.session.user_id))
        self.started = time.monotonic()

    async def status(self) -> None:
        if self.sink.is_ws:
            await self.sink.emit(self.state.backend.current_status([self.session]))

    async def set_error(self, message: str) -> None:
        """`setError`: reported unless `continueaftererrors`; then the rest is cancelled."""
        log.warning("Refused to generate image for %s: %s", self.session.user_id, message)
        if not self.request.get("continueaftererrors", False) or self.claim.should_cancel:
            await self.sink.emit({"error": message})
            self.claim.local_cancel = True

    async def backend_call(self, image_index: int, *, local_index: int) -> None:
        """One backend run: wait for the backend, load the model, sample, save the batch."""
        backend = self.state.backend
        self.claim.extend(waiting_backends=1)
        await self.status()
        try:
            acquired = await self._with_keep_alive(
                backend.acquire(lambda: self.claim.should_cancel)
            )
        except NoBackendsAvailable:
            self.claim.complete(waiting_backends=1)
            await self.set_error("No backends available!")
            return
        self.claim.complete(waiting_backends=1)
        if not acquired:
            return
        try:
            await self.status()
            await self._run_on_backend(image_index, local_index)
        finally:
            backend.release()
            self.claim.complete(live_gens=1, waiting_gens=1)
            await self.status()

    async def _run_on_backend(self, image_index: int, local_index: int) -> None:
        backend, model = self.state.backend, self.request.model_name
        if model is None:
            await self.set_error("No model input given. Did your UI load properly?")
            return
        if backend.current_model != model:
            self.claim.extend(loading_models=1)
            await self.status()
            backend.current_model = model
            self.claim.complete(loading_models=1)
        self.claim.extend(live_gens=1)
        await self.status()
        values = self._values_for(local_index)
        if not await self._sample(values, image_index):
            return
        for offset in range(self.request.get("batchsize", 1)):
            await self._save_image(self._values_for(local_index + offset), image_index + offset)

    def _values_for(self, local_index: int) -> dict[str, Any]:
        """Seed + index per image, unless `noseedincrement` (variation seed if it is in use)."""
        values = dict(self.request.values)
        if not values.get("noseedincrement", False):
            if "variationseed" in values and values.get("variationseedstrength", 0) > 0:
                values["variationseed"] += local_index
            else:
                values["seed"] += local_index
        return values

    def _spec(self, values: dict[str, Any]) -> ImageSpec:
        return ImageSpec(
            prompt=values.get("prompt", ""),
            negative_prompt=values.get("negativeprompt", ""),
            model=self.request.model_name or "",
            seed=values["seed"],
            width=values.get("width", 512),
            height=values.get("height", 512),
        )

    async def _sample(self, values: dict[str, Any], image_index: int) -> bool:
        """Emit progress (and previews) for every step; False if interrupted."""
        steps = values.get("steps", 20)
        previews = not values.get("nopreviews", False)
        models = await used_models(self.state.models, values)
        preview_metadata = metadata_string(values, self._extra(), models, is_preview=True)
        await self._progress(image_index, 1 / (WORKFLOW_NODES + 1), 0.0, metadata=preview_metadata)
        await self.sink.steps_done(0)
        spec = self._spec(values)
        for step in range(1, steps + 1):
            await asyncio.sleep(self.state.config.step_delay)
            if self.claim.should_cancel:
                await self.set_error("Generation session interrupted.")
                return False
            current = step / steps
            overall = NODES_BEFORE_SAMPLER + current
            await self._progress(image_index, overall / (WORKFLOW_NODES + 1), current)
            if values.get("forwardrawbackenddata"):
                await self.sink.emit(_raw_backend_progress(step, steps))
            if previews:
                preview = spec.preview_data_url(current)
                await self._progress(
                    image_index, overall / WORKFLOW_NODES, current, preview=preview
                )
            await self.sink.steps_done(1)
        return not self.claim.should_cancel

    async def _progress(self, index: int, overall: float, current: float, **extra: str) -> None:
        progress = {"batch_index": str(index), "request_id": self.request_id}
        if "preview" in extra:
            progress["preview"] = extra["preview"]
        progress |= {"overall_percent": overall, "current_percent": current}
        if "metadata" in extra:
            progress["metadata"] = extra["metadata"]
        await self.sink.emit({"gen_progress": progress})

    def _extra(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.started
        return {**self.request.extra_meta, "generation_time": f"{elapsed:.2f} sec"}

    async def _save_image(self, values: dict[str, Any], image_index: int) -> None:
        """Render, save (or make a data URL), and send the `image` message."""
        models = await used_models(self.state.models, values)
        metadata = metadata_string(values, self._extra(), models)
        extension = image_extension(self.request)
        spec = self._spec(values)
        data = await asyncio.to_thread(lambda: encode(spec.render(), extension, metadata))
        if values.get("donotsave", False):
            url = data_url(data, extension)
        else:
            try:
                url = self._store(values, image_index, extension, data, metadata)
            except OSError:
                log.exception("Failed to save an image")
                await self.set_error("Server failed to save an image.")
                return
        if values.get("forwardswarmdata"):
            await self.sink.emit({"raw_swarm_data": {"params_used": list(values)}})
        await self.sink.emit(
            {
                "image": url,
                "batch_index": str(image_index),
                "request_id": self.request_id,
                "metadata": metadata or None,
            }
        )

    def _store(self, values, image_index: int, extension: str, data: bytes, metadata: str) -> str:
        outputs, user = self.state.outputs, self.session.user_id
        request = GenerationRequest(self.request.request_time, values, self.request.extra_meta)
        raw_path = outputs.build_path(
            request, request_ref=self.request_ref, user=user, batch_index=image_index
        )
        url, path = outputs.save(user, raw_path, extension, data)
        if extension != "png":
            write_side_metadata(path, metadata)
        return url

    async def _with_keep_alive(self, work) -> Any:
        """Await work, sending `keep_alive` every 30 s meanwhile (§3.3)."""
        task = asyncio.ensure_future(work)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=KEEP_ALIVE_EVERY)
                if done:
                    return task.result()
                await self.sink.emit({"keep_alive": True})
        finally:
            task.cancel()


def _raw_backend_progress(step: int, steps: int) -> dict:
    """`forwardrawbackenddata`: ComfyUI's own progress event, base64-wrapped."""
    event = json.dumps({"type": "progress", "data": {"value": step, "max": steps}})
    data = base64.b64encode(event.encode()).decode()
    return {"raw_backend_data": {"type": "comfy_websocket", "data": data}}
