"""What the settings page shows other apps' authors: the address and two ready-to-run
examples (curl, and OpenAI's Python client) with the real port."""

from __future__ import annotations

from app.core.serve.server import is_loopback

TOKEN_VARIABLE = "PONDER_TOKEN"


def client_host(host: str) -> str:
    """Where a client on this computer connects: "all addresses" (0.0.0.0, ::) is not one."""
    host = host.strip().strip("[]")
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def base_url(host: str, port: int) -> str:
    return f"http://{client_host(host)}:{port}/v1"


def needs_token(host: str) -> bool:
    return not is_loopback(host.strip())


def curl_example(host: str, port: int) -> str:
    auth = f" \\\n  -H \"Authorization: Bearer ${TOKEN_VARIABLE}\"" if needs_token(host) else ""
    return (f"curl {base_url(host, port)}/chat/completions \\\n"
            f"  -H 'Content-Type: application/json'{auth} \\\n"
            "  -d '{\"messages\": [{\"role\": \"user\",\n"
            "                     \"content\": \"Is 221 prime?\"}]}'")


def python_example(host: str, port: int) -> str:
    key = f'os.environ["{TOKEN_VARIABLE}"]' if needs_token(host) else '"unused"'
    head = "import os\n\n" if needs_token(host) else ""
    # Short lines: the settings page shows it whole, without scrolling sideways.
    return (f"{head}from openai import OpenAI\n\n"
            f'client = OpenAI(base_url="{base_url(host, port)}",\n'
            f"                api_key={key})\n"
            "reply = client.chat.completions.create(\n"
            "    model=client.models.list().data[0].id,\n"
            '    messages=[{"role": "user",\n'
            '               "content": "Is 221 prime?"}])\n'
            "message = reply.choices[0].message\n"
            'print(message.model_extra.get("reasoning_content"))\n'
            "print(message.content)")
