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


# -- llama.cpp's own servers (tests/llama_servers.py) ------------------------------------


def pytest_collection_modifyitems(config, items):
    # The first test that needs llama.cpp's servers builds them when they are not cached
    # yet (minutes on two cores, once per cache): that one test gets the build's time too.
    from tests import llama_servers

    if llama_servers.built():
        return
    for item in items:
        if "llama_binaries" in item.fixturenames:
            item.add_marker(pytest.mark.timeout(llama_servers.BUILD_SECONDS + 600))
            break


@pytest.fixture(scope="session")
def llama_binaries():
    """llama-server and the RPC server built from the pinned llama-cpp-python sdist (cached).
    A failed build fails the tests that need them, with the build's last lines."""
    from tests import llama_servers

    try:
        return llama_servers.build()
    except llama_servers.BuildError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def _llama_cluster(llama_binaries, smollm2, tmp_path_factory):
    from tests.llama_servers import Cluster

    cluster = Cluster(llama_binaries, smollm2, tmp_path_factory.mktemp("llama-cluster"),
                      extra=["--jinja", "--reasoning-format", "deepseek", "-lv", "4"])  # -lv 4: where layers went
    yield cluster
    cluster.stop()


@pytest.fixture
def llama_cluster(_llama_cluster):
    """SmolLM2 on a real llama-server whose layers live on two RPC servers (127.0.0.1),
    started once per test run; anything an earlier test killed is started again."""
    _llama_cluster.ensure_up()
    return _llama_cluster
