"""The documents part of the history database: text extracted from attached files (by
content hash, so the same file is read once) and each message's attachments.

A mixin of Store: the same connection and transactions; the tables come from
migration 2 in store.py.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredExtraction:
    id: int
    sha256: str
    extractor: int
    format: str
    text: str
    meta: dict  # e.g. page_starts, encoding
    tokens: dict  # model key -> whole-text token count


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    id: int
    message_id: int
    position: int
    name: str
    size: int
    format: str
    extraction: StoredExtraction | None  # None when the file could not be read
    error: str | None
    plan: dict | None  # how the prompt used it (mode, passages), for showing later


class DocumentRecords:
    """Store's methods for extractions and attachments (uses its _conn, _clock, _tx)."""

    def save_extraction(self, sha256: str, extractor: int, format: str, text: str, meta: dict) -> StoredExtraction:
        """Keep extracted text for file content `sha256`; an existing row is reused."""
        self._conn.execute(
            "INSERT INTO extractions (sha256, extractor, format, text, meta, created_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (sha256, extractor) DO NOTHING",
            (sha256, extractor, format, text, json.dumps(meta), self._clock()),
        )
        return self.find_extraction(sha256, extractor)

    def find_extraction(self, sha256: str, extractor: int) -> StoredExtraction | None:
        """Text already extracted from the same bytes by the same extractor version."""
        row = self._conn.execute(
            "SELECT * FROM extractions WHERE sha256 = ? AND extractor = ?", (sha256, extractor)
        ).fetchone()
        return None if row is None else _extraction(row)

    def set_extraction_tokens(self, extraction_id: int, model_key: str, tokens: int) -> None:
        self._conn.execute(
            "UPDATE extractions SET tokens = json_set(tokens, '$.' || json_quote(?), ?) WHERE id = ?",
            (model_key, tokens, extraction_id),
        )

    def add_attachment(self, message_id: int, position: int, name: str, size: int, format: str = "",
                       extraction_id: int | None = None, error: str | None = None,
                       plan: dict | None = None) -> int:
        cur = self._conn.execute(
            "INSERT INTO attachments (message_id, position, name, size, format, extraction_id, error, plan,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (message_id, position, name, size, format, extraction_id, error,
             None if plan is None else json.dumps(plan), self._clock()),
        )
        return cur.lastrowid

    def copy_attachments(self, from_message_id: int, to_message_id: int) -> int:
        """Give an edited question the attachments of the one it replaces (same text,
        same plan); returns how many."""
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO attachments (message_id, position, name, size, format, extraction_id, error, plan,"
                " created_at) SELECT ?, position, name, size, format, extraction_id, error, plan, ?"
                " FROM attachments WHERE message_id = ? ORDER BY position, id",
                (to_message_id, self._clock(), from_message_id),
            )
            return cur.rowcount

    def attachments(self, message_id: int) -> list[StoredAttachment]:
        """The message's attachments in the order they were given, with their text."""
        rows = self._conn.execute(
            "SELECT a.*, e.id AS e_id, e.sha256, e.extractor, e.format AS e_format, e.text, e.meta, e.tokens"
            " FROM attachments a LEFT JOIN extractions e ON e.id = a.extraction_id"
            " WHERE a.message_id = ? ORDER BY a.position, a.id",
            (message_id,),
        ).fetchall()
        return [_attachment(r) for r in rows]

    def purge_unused_extractions(self) -> int:
        """Delete extracted text no attachment refers to any more."""
        return self._conn.execute(
            "DELETE FROM extractions WHERE id NOT IN (SELECT extraction_id FROM attachments"
            " WHERE extraction_id IS NOT NULL)"
        ).rowcount


def _extraction(row: sqlite3.Row, prefix: str = "") -> StoredExtraction:
    return StoredExtraction(row[prefix + "id"], row["sha256"], row["extractor"], row[prefix + "format"],
                            row["text"], json.loads(row["meta"]), json.loads(row["tokens"]))


def _attachment(row: sqlite3.Row) -> StoredAttachment:
    extraction = None if row["e_id"] is None else _extraction(row, "e_")
    return StoredAttachment(row["id"], row["message_id"], row["position"], row["name"], row["size"], row["format"],
                            extraction, row["error"], None if row["plan"] is None else json.loads(row["plan"]))
