import pytest

from tests.hub_server import LocalHub


@pytest.fixture
def hub():
    """A local server that speaks the Hugging Face Hub's protocol (point HF_ENDPOINT at it)."""
    with LocalHub() as h:
        yield h
