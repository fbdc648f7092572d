"""Serving stored images: always through a view that has checked team membership first."""

from __future__ import annotations

from django.http import FileResponse, Http404

from dashboard.generations.models import GeneratedImage


def image_file_response(image: GeneratedImage, *, thumbnail: bool = False) -> FileResponse:
    field = image.thumbnail if thumbnail else image.file
    if not field:
        raise Http404("no such file")
    try:
        handle = field.storage.open(field.name, "rb")
    except FileNotFoundError as exc:
        raise Http404("the stored file is missing") from exc
    name = f"{image.generation_id}-{image.index}.{field.name.rsplit('.', 1)[-1]}"
    response = FileResponse(
        handle,
        content_type="image/webp" if thumbnail else image.mime,
        as_attachment=False,
        filename=name,
    )
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
