"""Command line: convert CTranslate2 Whisper weights into an openai-whisper ``.pt`` checkpoint.

    python -m tools.convert_whisper bundled:tiny.en whisper-tiny.en.pt

The conversion itself lives in ``workers/stt/checkpoint_conversion.py`` (the openai-whisper worker
uses it at run time for bundled models).
"""

from pathlib import Path
from typing import Annotated

import typer

from workers.assets import whisper_model_dir
from workers.stt.checkpoint_conversion import convert_ct2_to_openai_whisper

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    source: Annotated[
        str, typer.Argument(help="CTranslate2 model directory, or bundled:tiny.en / bundled:base")
    ],
    output: Annotated[Path, typer.Argument(help="the openai-whisper .pt checkpoint to write")],
) -> None:
    """Convert SOURCE into an openai-whisper checkpoint at OUTPUT."""
    written = convert_ct2_to_openai_whisper(Path(whisper_model_dir(source)), output)
    typer.echo(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    app()
