"""Generation and parameter routes (`T2IAPI`; §3.1, §3.3, §3.5)."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time

from aiohttp import web

from emulators.swarmui import model_classes
from emulators.swarmui.csharp import parse_csharp_integer
from emulators.swarmui.framework import Call, FrameworkError, Param, Route, receive_json, to_json
from emulators.swarmui.generation import CollectingSink, generate
from emulators.swarmui.model_listing import wildcard_names
from emulators.swarmui.models import SUBTYPE_FOLDERS
from emulators.swarmui.params import GROUPS, PARAMS
from emulators.swarmui.request_params import param_values
from emulators.swarmui.state import EmulatorState

log = logging.getLogger(__name__)

SOCKET_GRACE = 2.0  # seconds a finished socket waits for another request (§3.3)
REFRESH_MIN_INTERVAL = 10.0


async def generate_text2image(call: Call, images: int) -> dict:
    """Collect everything, keyed by batch index in completion order; the first error wins."""
    sink = CollectingSink()
    work = generate(call.state, call.session, images, call.raw_input, 0, sink)
    await asyncio.shield(call.state.spawn(work))
    outputs: dict[int, str] = {}
    discards: list[int] = []
    for message in sink.messages:
        if "error" in message:
            return message
        if "image" in message and "batch_index" in message:
            outputs[int(message["batch_index"])] = message["image"]
        if "discard_indices" in message:
            discards = message["discard_indices"]
    for index in discards:
        outputs.pop(index, None)
    return {"images": list(outputs.values())}


class WebSocketSink:
    """Sends generation messages over the socket; can drop it abruptly (fault switch)."""

    is_ws = True

    def __init__(self, call: Call) -> None:
        self.ws: web.WebSocketResponse = call.ws
        self.request = call.request
        self.faults = call.state.faults
        self.steps = 0
        self.dropped = False
        self._send_lock = asyncio.Lock()  # requests sharing the socket send concurrently

    @property
    def alive(self) -> bool:
        return not (self.dropped or self.ws.closed or self.request.transport is None)

    async def emit(self, message: dict) -> None:
        if not self.alive:
            return
        try:
            async with self._send_lock:
                await self.ws.send_str(to_json(message))
        except (ConnectionError, RuntimeError):
            log.info("Generation socket went away; the work goes on (SwarmUI does not cancel)")

    async def steps_done(self, count: int) -> None:
        self.steps += count
        limit = self.faults.drop_ws_after_steps
        if limit is not None and self.steps >= limit and self.alive:
            self._drop()

    def _drop(self) -> None:
        """`drop_ws_after_steps`: no close frame, a TCP reset (SO_LINGER 0, then abort)."""
        transport = self.request.transport
        raw_socket = transport.get_extra_info("socket")
        if raw_socket is not None:
            raw_socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        self.dropped = True
        log.info("Fault: dropped a generation WebSocket after %d steps", self.steps)


def _batch_size(raw: dict) -> int:
    """`guessBatchSize`: the raw `batchsize` key, else 1."""
    value = raw.get("batchsize", 1)
    return (parse_csharp_integer(str(value)) or 1) if not isinstance(value, bool) else 1


async def generate_text2image_ws(call: Call, images: int) -> None:
    """Requests run as tasks; after the last one ends the server says `socket_intention: close`
    and waits 2 s, during which a further JSON message on the socket is a new request."""
    state, sink = call.state, WebSocketSink(call)
    tasks: set[asyncio.Task] = {
        state.spawn(generate(state, call.session, images, call.raw_input, 0, sink))
    }
    retain, ended = False, False

    async def read_more(batch_offset: int) -> None:
        nonlocal retain
        while True:
            try:
                more = await receive_json(call.ws)
            except FrameworkError:
                log.warning("Ignoring a non-JSON follow-up message on a generation socket")
                return
            if more is None or ended:
                return
            retain = True
            count = parse_csharp_integer(str(more.get("images", 0))) or 0
            work = generate(state, call.session, count, more, batch_offset, sink)
            tasks.add(state.spawn(work))
            retain = False
            batch_offset += count * _batch_size(more)

    reader = asyncio.ensure_future(read_more(images * _batch_size(call.raw_input)))
    try:
        while retain or tasks:
            if tasks:
                await asyncio.wait(set(tasks), return_when=asyncio.FIRST_COMPLETED)
            tasks -= {task for task in tasks if task.done()}
            if not tasks and sink.alive:
                await sink.emit({"socket_intention": "close"})
                await asyncio.sleep(SOCKET_GRACE)
            if not tasks:
                ended = True
        await sink.emit(state.backend.current_status([call.session]))
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return None


def t2i_params(state: EmulatorState) -> dict:
    """The ListT2IParams object, keys in SwarmUI's order."""
    models = {
        subtype: [
            [m.name, m.model_class.id if m.model_class else None]
            for m in state.models.models(subtype)
        ]
        for subtype in SUBTYPE_FOLDERS
    }
    return {
        "list": [param.to_net(param_values(param, state.models)) for param in PARAMS],
        "groups": [group.to_net() for group in sorted(GROUPS, key=lambda g: g.priority)],
        "models": models,
        "model_compat_classes": model_classes.compat_classes(),
        "model_classes": model_classes.model_classes(),
        "wildcards": wildcard_names(state.wildcards_root),
        "param_edits": None,
    }


async def list_t2i_params(call: Call) -> dict:
    return t2i_params(call.state)


async def trigger_refresh(call: Call, strong: bool, refreshType: str | None) -> dict:
    """Rescan the model folders, unless the last refresh was under 10 s ago."""
    store = call.state.models
    if strong and time.monotonic() - store.last_refreshed >= REFRESH_MIN_INTERVAL:
        if not refreshType:
            store.refresh()
        elif refreshType != "wildcards":
            log.warning("Unrecognized refresh type '%s', ignoring", refreshType)
    return t2i_params(call.state)


ROUTES = [
    Route("GenerateText2Image", generate_text2image, (Param("images", "Int32"),)),
    Route(
        "GenerateText2ImageWS", generate_text2image_ws, (Param("images", "Int32"),), websocket=True
    ),
    Route("ListT2IParams", list_t2i_params),
    Route(
        "TriggerRefresh",
        trigger_refresh,
        (Param("strong", "Boolean", True), Param("refreshType", "String", None)),
    ),
]
