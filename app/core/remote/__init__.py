"""Models on servers: llama.cpp's llama-server, vLLM, Ollama, OpenRouter and other
OpenAI-compatible ones, behind the same Engine contract as the local model."""

from app.core.remote.detect import KINDS, ServerInfo, normalize
from app.core.remote.engine import RemoteEngine
from app.core.remote.errors import RemoteError

__all__ = ["KINDS", "RemoteEngine", "RemoteError", "ServerInfo", "normalize"]
