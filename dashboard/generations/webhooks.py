"""RunPod's completion webhook: `POST /hooks/runpod/<generation id>/<token>/` with the job object.

The URL's token is the only credential (RunPod signs nothing), compared in constant time. RunPod
retries a failed delivery twice, 10 s apart (runpod.md §1.3), so answering 200 to a duplicate or a
late delivery is part of being idempotent.
"""

import json
import logging
import secrets

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from dashboard.generations import services
from dashboard.generations.models import Generation

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def runpod_webhook(request: HttpRequest, generation_id: int, token: str) -> JsonResponse:
    generation = Generation.objects.filter(pk=generation_id).only("pk", "webhook_token").first()
    if generation is None or not secrets.compare_digest(
        token.encode(), generation.webhook_token.encode()
    ):
        return JsonResponse({"detail": "Not found."}, status=404)
    try:
        job = json.loads(request.body)
    except ValueError:
        return JsonResponse({"detail": "The body is not JSON."}, status=400)
    if not isinstance(job, dict) or "status" not in job:
        return JsonResponse({"detail": "The body is not a RunPod job object."}, status=400)
    generation = services.apply_job_status(generation_id=generation.pk, job=job, source="webhook")
    return JsonResponse({"status": generation.status})
