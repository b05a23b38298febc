"""API keys over HTTP (admin scope): create one (its secret shown once), list them, revoke one.
The same records as `python -m tools.cli keys`, which works on the database directly."""

from fastapi import APIRouter, status

from api.auth import AdminGuard
from api.deps import State, StorageDep
from api.errors import ApiError
from pipelines.api_keys import create_key, get_key_info, list_keys, revoke_key
from schemas.api_keys import ApiKeyInfo
from schemas.errors import ErrorCode
from schemas.key_admin import KeyCreate, KeyCreated

router = APIRouter(prefix="/v1/keys", tags=["keys"], dependencies=[AdminGuard])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=KeyCreated)
def create(body: KeyCreate, storage: StorageDep) -> KeyCreated:
    """A new key; the answer is the only place its secret ever appears."""
    key, secret = create_key(storage, name=body.name, scopes=sorted(set(body.scopes)))
    info = get_key_info(storage, key.id)
    assert info is not None  # just written, journaled
    return KeyCreated(**info.model_dump(), key=secret)


@router.get("", response_model=list[ApiKeyInfo])
def list_all(storage: StorageDep) -> list[ApiKeyInfo]:
    """Every key, oldest first, revoked ones included (never a secret)."""
    return list_keys(storage)


@router.delete("/{key_id}", response_model=ApiKeyInfo)
def revoke(key_id: str, state: State) -> ApiKeyInfo:
    """Revoke a key: refused at once by this API process, by the others within VTUBER_API_KEY_CACHE_S."""
    info = get_key_info(state.storage, key_id)
    if info is None:
        raise ApiError(ErrorCode.not_found, f"key {key_id} not found")
    if not revoke_key(state.storage, key_id):
        raise ApiError(ErrorCode.conflict, f"key {key_id} is already revoked")
    state.keys.forget(key_id)
    revoked = get_key_info(state.storage, key_id)
    assert revoked is not None
    return revoked
