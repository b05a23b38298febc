"""Start-up refusals for ``VTUBER_ENV=production``: settings that are fine on a laptop and a hole
on the internet stop the API before it serves anything."""

from pipelines.api_keys import live_development_keys
from pipelines.settings import Settings
from pipelines.storage import Storage


class UnsafeProductionSettings(RuntimeError):
    pass


def production_problems(settings: Settings, storage: Storage) -> list[str]:
    problems = []
    if settings.open_access:
        problems.append("VTUBER_OPEN_ACCESS=true serves anyone as an admin")
    if not settings.webhook_secret:
        problems.append("VTUBER_WEBHOOK_SECRET is empty: callbacks would go out unsigned")
    if live_development_keys(storage):
        problems.append(
            "a development API key (made by `make demo`/`make run`) is not revoked: "
            "`python -m tools.cli keys list`, then `keys revoke <id>`"
        )
    return problems


def refuse_unsafe_production(settings: Settings, storage: Storage) -> None:
    if settings.env != "production":
        return
    problems = production_problems(settings, storage)
    if problems:
        raise UnsafeProductionSettings("refusing to start in production: " + "; ".join(problems))
