"""The system prompt each turn was answered with, kept so an export can show it long after the
persona file (or the prompt template in prompting.py) changed.

A persona's version hashes its file, not the template around it, so the rendered prompt is what is
kept: one document per distinct text (its id is the text's hash), written once per process per
text, and the job records that id when it is accepted.
"""

import hashlib

from pipelines.jobs import utcnow
from pipelines.personas import UnknownPersona, get_persona
from pipelines.prompting import system_prompt
from pipelines.storage import Storage
from schemas.persona import Persona

_recorded: set[tuple[str, str]] = set()  # (database, prompt id) already stored by this process


def prompt_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def record_system_prompt(storage: Storage, persona: Persona) -> str:
    """Store the persona's rendered system prompt unless this process already did; its id."""
    text = system_prompt(persona)
    key = prompt_id(text)
    if (storage.db.name, key) not in _recorded:
        storage.persona_prompts.update_one(
            {"_id": key},
            {
                "$setOnInsert": {
                    "persona": persona.id,
                    "persona_version": persona.version,
                    "text": text,
                    "created_at": utcnow(),
                }
            },
            upsert=True,
        )
        _recorded.add((storage.db.name, key))
    return key


def record_for(storage: Storage, persona_id: str) -> str | None:
    """``record_system_prompt`` by persona id; None when the persona file is gone."""
    try:
        return record_system_prompt(storage, get_persona(persona_id))
    except UnknownPersona:
        return None


def prompts_by_id(storage: Storage, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    return {doc["_id"]: doc["text"] for doc in storage.persona_prompts.find({"_id": {"$in": sorted(ids)}})}


def current_prompt(persona_id: str, persona_version: str) -> str | None:
    """For turns accepted before prompts were kept: the prompt on disk, if it is still that version."""
    try:
        persona = get_persona(persona_id)
    except UnknownPersona:
        return None
    return system_prompt(persona) if persona.version == persona_version else None
