import os

# Before any Qt import: tests run without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests import model_files  # noqa: E402


@pytest.fixture(autouse=True)
def app_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own data/config/log folders."""
    home = tmp_path / "home"
    monkeypatch.setenv("PONDER_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """The real SmolLM2-135M-Instruct Q4_1 GGUF (fetched once, sha256-pinned, cached)."""
    return model_files.smollm2_path()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tiny_phi3(smollm2, model_dir) -> Path:
    return model_files.make_tiny_phi3(model_dir / "tiny-phi3.gguf", tokenizer_source=smollm2)


@pytest.fixture
def rendered(monkeypatch) -> list[str]:
    """The source of every Markdown render asked for, in order (a spy on render_markdown)."""
    from app.render import markdown

    calls: list[str] = []
    real = markdown.render_markdown

    def spy(text, *args, **kwargs):
        calls.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(markdown, "render_markdown", spy)
    return calls
