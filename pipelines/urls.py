"""URLs the API hands out, absolute when a public base URL is configured."""

from pipelines.settings import Settings


def url(settings: Settings, path: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}{path}"


def job_url(settings: Settings, job_id: str) -> str:
    return url(settings, f"/v1/jobs/{job_id}")


def audio_url(settings: Settings, audio_id: str) -> str:
    return url(settings, f"/v1/audio/{audio_id}")
