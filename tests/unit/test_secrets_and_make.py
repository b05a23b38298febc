"""Which variables are secrets is written once, beside each (`[secret]` in its comment), and the
deployments agree: secrets come from .env or a Kubernetes Secret, never from a ConfigMap or a
literal; `make up` refuses an .env that lacks one or still holds an example value."""

import subprocess
from pathlib import Path

import yaml

from pipelines.settings import PROJECT_ROOT

K8S_BASE = PROJECT_ROOT / "deploy" / "k8s" / "base"


def variables(path: Path) -> dict[str, bool]:
    """Each variable of an env file, and whether the comment block right above it says [secret]."""
    found: dict[str, bool] = {}
    comment: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            comment.append(line)
        elif "=" in line:
            found[line.split("=", 1)[0]] = any("[secret]" in c for c in comment)
            comment = []
        else:
            comment = []
    return found


def secrets_of(path: Path) -> set[str]:
    return {name for name, secret in variables(path).items() if secret}


def test_env_example_marks_the_credentials() -> None:
    assert secrets_of(PROJECT_ROOT / ".env.example") == {
        "VTUBER_REDIS_URL",
        "VTUBER_MONGO_URL",
        "VTUBER_OPENAI_API_KEY",
        "VTUBER_WEBHOOK_SECRET",
        "VTUBER_CHAT_YOUTUBE_API_KEY",
    }
    compose = variables(PROJECT_ROOT / ".env.compose.example")
    for name, secret in compose.items():
        assert secret == any(word in name for word in ("PASSWORD", "SECRET", "AUTH")), name


def test_kubernetes_keeps_secrets_out_of_the_config_map() -> None:
    secret_settings = secrets_of(PROJECT_ROOT / ".env.example")
    config = variables(K8S_BASE / "config.env")
    assert set(config) & secret_settings == set()
    secret_file = variables(K8S_BASE / "secrets.env.example")
    for name in secret_file:
        if name.startswith("VTUBER_"):
            assert name in secret_settings, name


def test_compose_reads_every_secret_from_env() -> None:
    compose_secrets = secrets_of(PROJECT_ROOT / ".env.compose.example")
    services = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())["services"]
    for name, service in services.items():
        environment = service.get("environment", {})
        for key, value in environment.items() if isinstance(environment, dict) else []:
            if key in compose_secrets:
                assert str(value).startswith("${"), f"{name}: {key} is written into the file"
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    checked = makefile.split("COMPOSE_SECRETS :=", 1)[1].split("\n\n", 1)[0].replace("\\", " ").split()
    assert compose_secrets <= set(checked)


def compose_env(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(PROJECT_ROOT / "Makefile"), "compose-env"],
        cwd=directory,
        capture_output=True,
        text=True,
    )


def test_make_compose_env_refuses_a_missing_incomplete_or_example_env(tmp_path: Path) -> None:
    missing = compose_env(tmp_path)
    assert missing.returncode != 0 and ".env is missing" in missing.stdout
    example = (PROJECT_ROOT / ".env.compose.example").read_text()
    (tmp_path / ".env").write_text(example)
    placeholder = compose_env(tmp_path)
    assert placeholder.returncode != 0 and "change-me" in placeholder.stdout
    filled = example.replace("change-me", "s3cr3t")
    (tmp_path / ".env").write_text(filled.replace("REDIS_PASSWORD=s3cr3t-redis\n", ""))
    incomplete = compose_env(tmp_path)
    assert incomplete.returncode != 0 and "REDIS_PASSWORD is not set" in incomplete.stdout
    (tmp_path / ".env").write_text(filled)
    assert compose_env(tmp_path).returncode == 0
