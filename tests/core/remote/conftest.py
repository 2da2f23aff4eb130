from pathlib import Path

import pytest

THINKING_TEMPLATE = Path(__file__).parent / "data" / "thinking-chatml.jinja"


@pytest.fixture(scope="session")
def thinking_llama_server(llama_binaries, smollm2, tmp_path_factory):
    """SmolLM2 on one real llama-server with a chat template it reads as a thinking
    model's (tests/core/remote/data/thinking-chatml.jinja): the thinking comes in
    reasoning_content, and Answer now's control endpoint is armed for each reply."""
    from tests.llama_servers import llama_server

    proc = llama_server(llama_binaries, smollm2, tmp_path_factory.mktemp("thinking-server"), name="thinking-server",
                        extra=["--jinja", "--reasoning-format", "deepseek",
                               "--chat-template-file", str(THINKING_TEMPLATE)])
    yield proc
    proc.stop()
