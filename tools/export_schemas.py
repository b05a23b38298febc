"""Write the JSON Schemas clients consume, generated from the Pydantic models (the one source).

    python -m tools.export_schemas           # regenerate schemas/json/*.schema.json
    python -m tools.export_schemas --check   # exit 1 if a committed copy is stale (CI)

Output is deterministic (sorted keys, two-space indent, trailing newline) so diffs stay readable.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from schemas.animation import AnimationTrack
from schemas.avatar import AvatarCommand
from schemas.events import JobEvent
from schemas.listen import ListenFrame

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "json"

# Add a model (or a union such as AvatarCommand) here to publish its schema.
EXPORTS: list[tuple[Any, str]] = [
    (AnimationTrack, "animation.schema.json"),
    (AvatarCommand, "avatar_command.schema.json"),
    (JobEvent, "job_event.schema.json"),
    (ListenFrame, "listen_frame.schema.json"),
]


def render(model: Any) -> str:
    schema = TypeAdapter(model).json_schema()
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export_schemas(*, check: bool = False, directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema, or with ``check`` write nothing; return the files that were/are stale."""
    stale: list[Path] = []
    for model, filename in EXPORTS:
        path = directory / filename
        text = render(model)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed schema is stale")
    args = parser.parse_args(argv)
    stale = export_schemas(check=args.check)
    for path in stale:
        verb = "stale" if args.check else "wrote"
        print(f"{verb}: {path}", file=sys.stderr if args.check else sys.stdout)
    if args.check and stale:
        print("run: python -m tools.export_schemas", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
