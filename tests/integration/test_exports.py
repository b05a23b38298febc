"""Retraining exports from real MongoDB-protocol and Redis servers: the chat JSONL validates line by
line against the fine-tuning chat format and holds exactly the chosen turns; the speech dataset's
manifest names every clip beside it, from the API's tar stream and the CLI's directory alike."""

import io
import json
import tarfile
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import redis
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.main import create_app
from pipelines.api_keys import create_key
from pipelines.batches import create_batch
from pipelines.chat_export import TurnFilter, chat_lines
from pipelines.persona_prompts import prompt_id
from pipelines.personas import get_persona
from pipelines.prompting import system_prompt
from pipelines.settings import Settings
from pipelines.storage import Storage
from schemas.api_keys import Scope
from schemas.batches import BatchOptions
from tests.conversation_data import days_ago, new_session, rate, stored_turn, wav_bytes
from tools import export_cli

# OpenAI's chat fine-tuning format (platform.openai.com/docs/guides/fine-tuning, "Example format",
# and the API reference's "training format for chat models"): each line one JSON object with a
# `messages` list of role/content messages; optional `name`, and `weight` (0 or 1) on assistant
# messages; tools and functions are optional top-level keys, nothing else.
MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"enum": ["system", "user", "assistant", "tool"]},
        "content": {"type": "string", "minLength": 1},
        "name": {"type": "string"},
        "weight": {"enum": [0, 1]},
        "tool_calls": {"type": "array"},
        "tool_call_id": {"type": "string"},
    },
    "additionalProperties": False,
}
CHAT_LINE = {
    "type": "object",
    "required": ["messages"],
    "properties": {
        "messages": {"type": "array", "minItems": 2, "items": MESSAGE},
        "tools": {"type": "array"},
        "parallel_tool_calls": {"type": "boolean"},
        "functions": {"type": "array"},
    },
    "additionalProperties": False,
}


def valid_chat_example(line: str) -> dict[str, Any]:
    """One JSONL line, held to the format: schema, then the rules it cannot say."""
    assert line.endswith("\n") and "\n" not in line[:-1], "one example per line"
    example = json.loads(line)
    jsonschema.validate(example, CHAT_LINE)
    roles = [message["role"] for message in example["messages"]]
    assert "assistant" in roles, "an example teaches at least one assistant message"
    assert roles.count("system") <= 1 and ("system" not in roles or roles[0] == "system")
    assert all("weight" not in m for m in example["messages"] if m["role"] != "assistant")
    return dict(example)


def test_the_validator_refuses_what_the_format_does_not_allow() -> None:
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    valid_chat_example(json.dumps(good) + "\n")
    for bad in (
        {"messages": [{"role": "user", "content": "hi"}]},  # nothing to learn
        {"messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": "yo"}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]},
        {"messages": good["messages"], "extra": 1},
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "system", "content": "s"},
                good["messages"][1],
            ]
        },
    ):
        with pytest.raises((AssertionError, jsonschema.ValidationError)):
            valid_chat_example(json.dumps(bad) + "\n")


@pytest.fixture
def admin(storage: Storage) -> dict[str, str]:
    _, secret = create_key(storage, name="exports", scopes=[Scope.admin])
    return {"Authorization": f"Bearer {secret}"}


def test_chat_export_holds_the_chosen_turns_as_valid_fine_tuning_lines(
    settings: Settings, storage: Storage, rclient: redis.Redis, admin: dict[str, str]
) -> None:
    hana, sora = new_session(storage, None, "hana"), new_session(storage, None, "sora")
    kinds: dict[str, dict[str, Any]] = {
        "corrected": {},
        "good": {"kind": "audio"},
        "bad": {},
        "unrated": {},
        "cut_off": {"status": "interrupted"},
        "failed": {"status": "failed"},
        "old_prompt": {},
        "lost_prompt": {},
        "last_month": {"created_at": days_ago(30)},
    }
    turn = {
        name: stored_turn(storage, rclient, hana, text=f"viewer says {name}", **fields)
        for name, fields in kinds.items()
    }
    turn["sora"] = stored_turn(storage, rclient, sora, persona="sora", text="viewer says sora")
    for name in ("good", "cut_off", "failed", "old_prompt", "lost_prompt", "last_month", "sora"):
        rate(storage, turn[name], 1)
    rate(storage, turn["corrected"], -1)
    rate(storage, turn["corrected"], 1, corrected="[happy] A better answer.")
    rate(storage, turn["bad"], -1)
    # An answer by an older persona text: its stored prompt is what the export shows.
    old_text = "You are Hana, as she was last year."
    storage.persona_prompts.insert_one({"_id": prompt_id(old_text), "text": old_text, "persona": "hana"})
    storage.jobs.update_one(
        {"_id": turn["old_prompt"]["_id"]}, {"$set": {"system_prompt_id": prompt_id(old_text)}}
    )
    # A turn from before prompts were kept, whose persona file has changed since: left out, counted.
    storage.jobs.update_one(
        {"_id": turn["lost_prompt"]["_id"]},
        {"$set": {"persona_version": "0+deadbeef", "system_prompt_id": None}},
    )

    stats: Counter[str] = Counter()
    lines = list(chat_lines(storage, TurnFilter(persona="hana", min_rating=1, since=days_ago(7)), stats))
    examples = [valid_chat_example(line) for line in lines]
    by_user = {e["messages"][1]["content"]: e["messages"] for e in examples}
    assert sorted(by_user) == ["viewer says corrected", "viewer says good", "viewer says old_prompt"]
    assert stats == {"written": 3, "skipped_rating": 2, "skipped_no_prompt": 1}  # bad, unrated
    current = system_prompt(get_persona("hana"))
    assert by_user["viewer says good"][0] == {"role": "system", "content": current}
    assert by_user["viewer says good"][2] == {
        "role": "assistant",
        "content": "[happy] Hi, welcome! [surprised] First time here?",  # the reply as tagged
    }
    assert by_user["viewer says corrected"][2]["content"] == "[happy] A better answer."
    assert by_user["viewer says old_prompt"][0]["content"] == old_text

    everything = [
        valid_chat_example(line) for line in chat_lines(storage, TurnFilter(include_interrupted=True))
    ]
    users = sorted(e["messages"][1]["content"] for e in everything)
    assert (
        "viewer says failed" not in users and "viewer says cut_off" in users and "viewer says sora" in users
    )
    cut_off = next(e for e in everything if e["messages"][1]["content"] == "viewer says cut_off")
    assert cut_off["messages"][2]["content"] == "Hi, welcome!"  # only what was heard

    with TestClient(create_app(settings)) as api:
        params: dict[str, str | int] = {"persona": "hana", "min_rating": 1, "since": days_ago(7).isoformat()}
        with api.stream("GET", "/v1/exports/chat.jsonl", params=params, headers=admin) as answer:
            assert answer.status_code == 200 and answer.headers["content-type"].startswith(
                "application/jsonl"
            )
            streamed = [line + "\n" for line in answer.iter_lines() if line]
        assert streamed == lines
        _, client_secret = create_key(storage, name="client", scopes=[Scope.client])
        refused = api.get("/v1/exports/chat.jsonl", headers={"Authorization": f"Bearer {client_secret}"})
        assert refused.status_code == 403

    runner = CliRunner()
    original = export_cli.export_storage
    export_cli.export_storage = lambda: storage
    try:
        result = runner.invoke(
            export_cli.export,
            ["chat", "--persona", "hana", "--min-rating", "1", "--since", days_ago(7).isoformat()],
        )
    finally:
        export_cli.export_storage = original
    assert result.exit_code == 0, result.output
    written = [line + "\n" for line in result.stdout.splitlines() if line.startswith("{")]
    assert written == lines


def test_speech_dataset_has_every_clip_beside_its_manifest(
    settings: Settings, storage: Storage, rclient: redis.Redis, admin: dict[str, str], tmp_path: Path
) -> None:
    session = new_session(storage, None)
    spoken = [stored_turn(storage, rclient, session, kind="audio", text=f"spoken line {n}") for n in range(3)]
    stored_turn(storage, rclient, session, kind="text", text="typed, so not speech")
    audio = storage.put_audio(
        wav_bytes(0.5), filename="talk.wav", content_type="audio/wav", metadata={"format": "wav"}
    )
    batch = create_batch(storage, options=BatchOptions(), files=[("talk.wav", audio, 0.5)], callback_url=None)
    transcript = {"text": " a batch transcript ", "language": "en", "duration_s": 0.5, "segments": []}
    storage.batch_files.update_one(
        {"batch_id": batch["_id"]},
        {"$set": {"status": "completed", "transcript": transcript, "finished_at": days_ago(0)}},
    )

    def check(manifest: list[dict[str, Any]], read: Any) -> None:
        texts = sorted(entry["text"] for entry in manifest)
        assert texts == ["a batch transcript", "spoken line 0", "spoken line 1", "spoken line 2"]
        for entry in manifest:
            assert entry["language"] == "en" and entry["duration"] in (0.25, 0.5)
            assert read(entry["audio_filepath"])[:4] == b"RIFF"
        batch_entry = next(e for e in manifest if e["source"] == "batch")
        assert read(batch_entry["audio_filepath"]) == storage.read_audio(audio)

    with TestClient(create_app(settings)) as api:
        answer = api.get("/v1/exports/speech.tar", headers=admin)
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-tar"
        with tarfile.open(fileobj=io.BytesIO(answer.content)) as tar:
            names = tar.getnames()
            assert names[-1] == "manifest.jsonl" and len(names) == 5
            manifest = [json.loads(line) for line in tar.extractfile("manifest.jsonl").read().splitlines()]  # type: ignore[union-attr]
            check(manifest, lambda name: tar.extractfile(name).read())  # type: ignore[union-attr]
        only = api.get(
            "/v1/exports/speech.tar", params={"source": "utterances", "persona": "hana"}, headers=admin
        )
        with tarfile.open(fileobj=io.BytesIO(only.content)) as tar:
            assert len(tar.getnames()) == len(spoken) + 1
        assert api.get("/v1/exports/speech.tar", params={"source": "films"}, headers=admin).status_code == 422

    original = export_cli.export_storage
    export_cli.export_storage = lambda: storage
    try:
        result = CliRunner().invoke(export_cli.export, ["speech", "--out", str(tmp_path / "dataset")])
    finally:
        export_cli.export_storage = original
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "dataset" / "manifest.jsonl").read_text().splitlines()
    check([json.loads(line) for line in lines], lambda name: (tmp_path / "dataset" / name).read_bytes())
