"""Sessions: a conversation with one persona."""

from fastapi import APIRouter, status

from api.auth import CallerKey, owned_or_404
from api.deps import SettingsDep, StorageDep
from api.errors import ApiError
from pipelines.jobs import new_id, utcnow
from pipelines.languages import voice_refusal
from pipelines.personas import get_persona
from pipelines.urls import url
from schemas.errors import ErrorCode
from schemas.session import SessionCreate, SessionOut

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])


def session_out(doc: dict, settings: SettingsDep) -> SessionOut:
    return SessionOut(
        id=doc["_id"],
        persona=doc["persona"],
        persona_version=doc["persona_version"],
        created_at=doc["created_at"],
        utterances_url=url(settings, f"/v1/sessions/{doc['_id']}/utterances"),
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SessionOut)
def create_session(
    key: CallerKey, storage: StorageDep, settings: SettingsDep, body: SessionCreate | None = None
) -> SessionOut:
    persona_id = (body.persona if body else None) or settings.default_persona
    persona = get_persona(persona_id)  # unknown: 400 unknown_persona (api/errors.py)
    if refusal := voice_refusal(settings, persona):  # every turn would fail at its voice
        raise ApiError(ErrorCode.language_unsupported, refusal)
    doc = {
        "_id": new_id(),
        "owner": key.id,
        "persona": persona.id,
        "persona_version": persona.version,
        "metadata": body.metadata if body else {},
        "created_at": utcnow(),
    }
    storage.journaled(storage.sessions).insert_one(doc)
    return session_out(doc, settings)


@router.get("/{session_id}", response_model=SessionOut)
def get_session(session_id: str, key: CallerKey, storage: StorageDep, settings: SettingsDep) -> SessionOut:
    doc = owned_or_404(key, storage.sessions.find_one({"_id": session_id}), f"session {session_id}")
    return session_out(doc, settings)
