"""The history database's tables, as ordered migrations (store.py runs them)."""

from __future__ import annotations

# Ordered schema changes; PRAGMA user_version counts how many have run. Only ever
# append: a released script must never change, or existing files would disagree.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE threads (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        system_prompt TEXT,
        settings TEXT NOT NULL DEFAULT '{}',
        root_selected_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
        created_at REAL NOT NULL, updated_at REAL NOT NULL, deleted_at REAL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        thread_id INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
        -- No cascade here: subtrees are deleted in one statement (see delete_message),
        -- because cascades through a long chain would hit SQLite's trigger depth limit.
        parent_id INTEGER REFERENCES messages(id),
        selected_child_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
        content TEXT NOT NULL DEFAULT '', reasoning TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL
            CHECK (state IN ('streaming', 'complete', 'cancelled', 'interrupted', 'error')),
        error TEXT, think_seconds REAL, answer_seconds REAL, prompt_tokens INTEGER, generated_tokens INTEGER,
        reasoning_tokens INTEGER,
        finish_reason TEXT, reasoning_unfinished INTEGER NOT NULL DEFAULT 0, reasoning_expanded INTEGER,
        created_at REAL NOT NULL, updated_at REAL NOT NULL
    );
    CREATE INDEX messages_thread ON messages(thread_id);
    CREATE INDEX messages_parent ON messages(parent_id);
    CREATE INDEX messages_streaming ON messages(state) WHERE state = 'streaming';
    CREATE INDEX threads_updated ON threads(updated_at);
    """,
    # 2: documents attached to a user message. The extracted text is kept once per
    # file content (sha256 of the original bytes) and extractor version; the original
    # file is not. Token counts depend on the model, so they are kept per model key.
    """
    CREATE TABLE extractions (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL,
        extractor INTEGER NOT NULL,
        format TEXT NOT NULL,
        text TEXT NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}',
        tokens TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        UNIQUE (sha256, extractor)
    );
    CREATE TABLE attachments (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        format TEXT NOT NULL DEFAULT '',
        extraction_id INTEGER REFERENCES extractions(id),
        error TEXT,
        plan TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX attachments_message ON attachments(message_id, position);
    CREATE INDEX attachments_extraction ON attachments(extraction_id);
    """,
    # 3: how a reply's thinking ended (model, budget, answer_now, loop, skipped, length...)
    # and the thinking budget it had (NULL: no limit), so a trace can say so after a restart.
    """
    ALTER TABLE messages ADD COLUMN thinking_end TEXT;
    ALTER TABLE messages ADD COLUMN think_budget INTEGER;
    """,
]
