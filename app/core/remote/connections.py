"""Saved connections to model servers: a name, an address and what was found there.

Kept in `connections.json` in the config folder (written whole to a temporary file, then
renamed). API keys are not in that file: they live in the system keychain through
SecretStore, under "remote:<name>", or come from an environment variable the connection
names. A damaged file is reported in a sentence, kept aside unchanged before anything is
written over it, and the entries that can be read still work.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from app.core.atomic_write import write_atomic
from app.core.errors import AppError
from app.core.remote.detect import KINDS, normalize
from app.core.remote.engine import RemoteEngine
from app.core.remote.errors import clean
from app.core.secrets import Place, SecretStore

log = logging.getLogger(__name__)

FILE_NAME = "connections.json"
MAX_FILE_BYTES = 256 * 1024
MAX_CONNECTIONS = 200
MAX_NAME_CHARS = 60
MAX_FIELD_CHARS = 300
FORMAT = 1
KEY_PREFIX = "remote:"


@dataclass(frozen=True, slots=True)
class Connection:
    """One server as the person saved it."""

    name: str
    url: str  # normalized (see detect.normalize)
    kind: str | None = None  # a key of KINDS, as detected when last tested
    model: str | None = None  # None: the first model the server lists
    api_key_env: str | None = None  # an environment variable holding the key
    sending_allowed: bool = False  # the person agreed once to send prompts to this non-local server

    @property
    def key_name(self) -> str:
        return KEY_PREFIX + self.name

    @property
    def loopback(self) -> bool:
        """The server is on this computer (prompts do not leave it)."""
        return is_loopback(self.url)

    @property
    def host(self) -> str:
        """host:port, as the privacy badge names it."""
        parts = urlsplit(self.url)
        host = parts.hostname or self.url
        if ":" in host:
            host = f"[{host}]"
        return f"{host}:{parts.port}" if parts.port else host

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind or "", "server")


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_name(name: str) -> str:
    """The name, trimmed; raises AppError for one that cannot be a connection's name."""
    text = (name or "").strip()
    if not text:
        raise AppError("Give the connection a name.")
    if len(text) > MAX_NAME_CHARS:
        raise AppError(f"A connection's name can have at most {MAX_NAME_CHARS} characters.")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise AppError("A connection's name cannot hold control characters.")
    if "://" in text:
        raise AppError("That looks like an address; give the connection a short name such as gpu-box.")
    return text


def _env_name(value: str | None) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if not all(ch.isalnum() or ch == "_" for ch in text) or text[0].isdigit() or len(text) > 100:
        raise AppError(f"{clean(text)[:100]!r} is not an environment variable name (letters, digits and _).")
    return text


class Connections:
    """The saved connections, and their keys. Not thread-safe: one owner (the window's GUI
    thread, or one CLI command)."""

    def __init__(self, folder: Path, secrets: SecretStore | None = None) -> None:
        self.path = Path(folder) / FILE_NAME
        self._secrets = secrets  # made when first needed: finding the keychain can take a moment
        self.problem: str | None = None  # why (part of) the file could not be read, for people
        self._damaged = False  # the file on disk is not ours to overwrite as it is
        self._items: dict[str, Connection] = {}
        self._read()

    @property
    def secrets(self) -> SecretStore:
        if self._secrets is None:
            self._secrets = SecretStore(self.path.parent)
        return self._secrets

    # -- reading and writing -------------------------------------------------------------

    def _read(self) -> None:
        try:
            with open(self.path, "rb") as f:
                raw = f.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return
        except OSError as exc:
            self._fail(f"it could not be opened ({exc.strerror or exc})")
            return
        if len(raw) > MAX_FILE_BYTES:
            self._fail(f"it is larger than {MAX_FILE_BYTES // 1024} KB")
            return
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            self._fail("it is not valid JSON")
            return
        entries = data.get("connections") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            self._fail('it has no "connections" list')
            return
        skipped = 0
        for entry in entries[:MAX_CONNECTIONS]:
            try:
                conn = _from_json(entry)
            except (AppError, TypeError, ValueError):
                skipped += 1
                continue
            if conn.name in self._items:
                skipped += 1
                continue
            self._items[conn.name] = conn
        skipped += max(0, len(entries) - MAX_CONNECTIONS)
        if skipped:
            self._damaged = True
            self.problem = (f"{skipped} saved connection{'s' if skipped != 1 else ''} in {self.path} could not "
                            f"be read and {'are' if skipped != 1 else 'is'} left out; the file is kept as it is "
                            f"until a change is saved, and then set aside unchanged.")

    def _fail(self, why: str) -> None:
        self._damaged = True
        self.problem = (f"The saved connections in {self.path} could not be read: {why}. Ponder starts without "
                        f"them; the file is set aside unchanged before a new one is written.")
        log.warning("connections file %s: %s", self.path, why)

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._damaged and self.path.exists():
            backup = self.path.with_name(f"{self.path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
            n = 1
            while backup.exists():
                n += 1
                backup = backup.with_name(f"{self.path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
            try:
                os.replace(self.path, backup)
            except OSError as exc:
                raise AppError(f"Could not set the unreadable {self.path} aside ({exc.strerror or exc}); "
                               f"nothing was saved.") from exc
            log.warning("unreadable connections file kept as %s", backup)
        payload = json.dumps({"format": FORMAT, "connections": [asdict(c) for c in self._items.values()]},
                             indent=2, ensure_ascii=False)
        try:
            write_atomic(self.path, payload, prefix=".connections-")
        except OSError as exc:
            raise AppError(f"Could not save the connections to {self.path}: {exc.strerror or exc}") from exc
        self._damaged = False

    # -- the list ------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def names(self) -> list[str]:
        return list(self._items)

    def get(self, name: str) -> Connection | None:
        return self._items.get(name)

    def put(self, conn: Connection, replacing: str | None = None) -> Connection:
        """Add `conn`, or put it in place of the one named `replacing` (a rename moves its
        key along). Checks the name and the address; raises AppError for bad ones."""
        name = check_name(conn.name)
        kind = conn.kind if conn.kind in KINDS else None
        conn = replace(conn, name=name, url=normalize(conn.url), kind=kind, model=(conn.model or "").strip() or None,
                       api_key_env=_env_name(conn.api_key_env))
        if len(conn.url) > MAX_FIELD_CHARS or len(conn.model or "") > MAX_FIELD_CHARS:
            raise AppError(f"The address and the model name can have at most {MAX_FIELD_CHARS} characters.")
        if name != replacing and name in self._items:
            raise AppError(f"There is already a connection named {name!r}.")
        if replacing is not None and replacing not in self._items:
            raise AppError(f"There is no connection named {replacing!r}.")
        old = self._items.get(replacing) if replacing is not None else None
        if old is not None and old.url != conn.url:
            conn = replace(conn, sending_allowed=False)  # agreed for another address
        if replacing is None and len(self._items) >= MAX_CONNECTIONS:
            raise AppError(f"At most {MAX_CONNECTIONS} connections can be saved.")
        items = {}
        for key, value in self._items.items():
            items[name if key == replacing else key] = conn if key == replacing else value
        if replacing is None:
            items[name] = conn
        before, self._items = self._items, items
        try:
            self._save()
        except AppError:
            self._items = before
            raise
        if old is not None and old.name != name:
            self._move_key(old, conn)
        return conn

    def _move_key(self, old: Connection, new: Connection) -> None:
        key = self.secrets.get(old.key_name)
        if key is None:
            return
        try:
            self.secrets.put(new.key_name, key, allow_file=self.secrets.where(old.key_name) == "file")
        except AppError as exc:
            log.warning("the key of %s could not be moved to its new name: %s", old.name, exc.user_message)
            return
        self.secrets.delete(old.key_name)

    def remove(self, name: str) -> None:
        """Forget a connection and its key. Raises AppError if there is none by that name."""
        if name not in self._items:
            raise AppError(f"There is no connection named {name!r}.")
        conn = self._items.pop(name)
        try:
            self._save()
        except AppError:
            self._items[name] = conn
            raise
        self.secrets.delete(conn.key_name)

    def allow_sending(self, name: str) -> None:
        """Remember that the person agreed to send prompts to this connection's server."""
        conn = self._items.get(name)
        if conn is not None and not conn.sending_allowed:
            self.put(replace(conn, sending_allowed=True), replacing=name)

    def note_detected(self, name: str, kind: str | None, model: str | None = None) -> None:
        """Keep what a test found (the server's kind; a model when none was chosen)."""
        conn = self._items.get(name)
        if conn is None:
            return
        changed = replace(conn, kind=kind if kind in KINDS else conn.kind, model=conn.model or model)
        if changed != conn:
            self.put(changed, replacing=name)

    # -- keys ----------------------------------------------------------------------------

    def set_key(self, name: str, key: str, *, allow_file: bool = False) -> Place:
        """Keep `key` for connection `name` in the keychain (or, with the person's consent,
        a file only they can read). Raises NoKeychain when neither is possible."""
        if name not in self._items:
            raise AppError(f"There is no connection named {name!r}.")
        return self.secrets.put(self._items[name].key_name, key, allow_file=allow_file)

    def forget_key(self, name: str) -> None:
        conn = self._items.get(name)
        if conn is not None:
            self.secrets.delete(conn.key_name)

    def key_place(self, name: str) -> Place | None:
        conn = self._items.get(name)
        return self.secrets.where(conn.key_name) if conn is not None else None

    def api_key(self, conn: Connection) -> str | None:
        """The kept key of a saved connection; None leaves the environment to RemoteEngine."""
        return self.secrets.get(conn.key_name) if conn.name in self._items else None

    # -- using one -----------------------------------------------------------------------

    def resolve(self, name_or_url: str) -> Connection:
        """A saved connection by name, else an unsaved one for an address."""
        conn = self._items.get((name_or_url or "").strip())
        if conn is not None:
            return conn
        text = (name_or_url or "").strip()
        if "://" in text or ":" in text or "." in text or text == "localhost":
            url = normalize(text)
            return Connection(name=url, url=url)
        known = ", ".join(self._items) or "none saved yet (engines add NAME URL)"
        raise AppError(f"No connection named {clean(text)[:80]!r}; saved ones: {known}.")

    def open_engine(self, name_or_url: str | Connection, model: str | None = None,
                    api_key_env: str | None = None, **options) -> RemoteEngine:
        """Open the server (network I/O: never on a GUI thread). The key comes from the
        keychain, else from `api_key_env` or the connection's variable, else the usual
        environment variables. Raises AppError (RemoteError) when it cannot be used."""
        conn = name_or_url if isinstance(name_or_url, Connection) else self.resolve(name_or_url)
        saved = conn.name in self._items
        return self.opener(conn, model, api_key_env, saved=saved, **options)()

    def opener(self, conn: Connection, model: str | None = None, api_key_env: str | None = None, *,
               api_key: str | None = None, saved: bool = True, **options) -> Callable[[], RemoteEngine]:
        """A call that opens `conn` later, on another thread: it reads the key from the
        keychain there (a locked keychain may ask and wait) and touches nothing else here.
        `api_key` (typed, not yet kept) wins over the kept one."""
        def open_it() -> RemoteEngine:
            key = api_key or (None if api_key_env or not saved else self.secrets.get(conn.key_name))
            return RemoteEngine(conn.url, model or conn.model, api_key=key,
                                api_key_env=api_key_env or conn.api_key_env, **options)

        return open_it


def check_server(engine: RemoteEngine) -> dict:
    """What a test of a connection reports: the server, latency, its models, the context
    size and what works (the engine is the caller's to close)."""
    t0 = time.perf_counter()
    models = engine.list_models()
    listed_ms = (time.perf_counter() - t0) * 1000
    report = {"ok": True, **engine.describe()}
    if report["latency_ms"] is None:  # no probe was needed (OpenRouter): time the model list instead
        report["latency_ms"] = round(listed_ms, 1)
    report["models"] = models
    return report


def _from_json(entry: object) -> Connection:
    if not isinstance(entry, dict):
        raise TypeError("not an object")

    def text(key: str, required: bool = False) -> str | None:
        value = entry.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or len(value) > MAX_FIELD_CHARS:
            raise ValueError(key)
        return value

    kind = text("kind")
    return Connection(
        name=check_name(text("name", True) or ""), url=normalize(text("url", True) or ""),
        kind=kind if kind in KINDS else None, model=text("model") or None,
        api_key_env=_env_name(text("api_key_env")), sending_allowed=entry.get("sending_allowed") is True,
    )
