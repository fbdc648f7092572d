"""A protocol-faithful local stand-in for the SwarmUI HTTP/WebSocket API.

Run it with ``python -m emulators.swarmui``; the facts it implements are in
``shared/reference/swarmui-api.md`` and its CLI and fault switches in ``docs/emulators.md``.
"""
