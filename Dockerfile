# The SwarmDeck dashboard image: one image for web (gunicorn), the Celery worker and beat.
#   docker build -t swarmdeck/dashboard .                     # target "dashboard" (default)
#   docker build --target emulators -t swarmdeck/emulators .  # + local SwarmUI/RunPod emulators
# The GPU worker has its own image: worker/Dockerfile.
FROM python:3.11-slim AS dashboard

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first (their layer is reused until pyproject.toml changes); the code runs from /app.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY manage.py ./
COPY dashboard ./dashboard
COPY templates ./templates
COPY static ./static
# The job contract is shared with the GPU worker; the dashboard imports nothing else from it.
COPY worker/__init__.py worker/contract.py ./worker/

RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 swarmdeck \
    && mkdir -p /data/media \
    && chown -R swarmdeck /data

USER swarmdeck
ENV MEDIA_ROOT=/data/media \
    STATIC_ROOT=/app/staticfiles
EXPOSE 8000
CMD ["gunicorn", "dashboard.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]


# Local stand-ins for SwarmUI and RunPod, with the real worker handler (docker compose --profile emulators).
FROM dashboard AS emulators
USER root
COPY worker/requirements.txt ./worker/requirements.txt
RUN pip install -r worker/requirements.txt
COPY worker ./worker
COPY emulators ./emulators
RUN mkdir -p /volume && chown swarmdeck /volume
USER swarmdeck
EXPOSE 7801 8900
