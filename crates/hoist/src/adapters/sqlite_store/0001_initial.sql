-- The first schema. Timestamps are INTEGER milliseconds since the Unix epoch; enums are their
-- lowercase names; LockHolder and command arguments are JSON text.

CREATE TABLE environments (
    name               TEXT PRIMARY KEY NOT NULL,
    state              TEXT NOT NULL,
    failure_step       TEXT,
    failure_error      TEXT,
    failure_at         INTEGER,
    failure_command_id INTEGER,
    live_release       TEXT,
    pending_release    TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;

-- One row per held environment; no foreign key, since `create` takes the lease before the
-- environment exists.
CREATE TABLE leases (
    env        TEXT PRIMARY KEY NOT NULL,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE commands (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    env          TEXT NOT NULL,
    args         TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    execute_at   INTEGER,
    started_at   INTEGER,
    finished_at  INTEGER,
    error        TEXT,
    runner       TEXT
) STRICT;

CREATE INDEX commands_by_env_status ON commands (env, status);
CREATE INDEX commands_by_status_execute_at ON commands (status, execute_at);

CREATE TABLE command_steps (
    command_id INTEGER NOT NULL REFERENCES commands (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    step       TEXT NOT NULL,
    ok         INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    elapsed_ms INTEGER NOT NULL,
    detail     TEXT,
    PRIMARY KEY (command_id, seq)
) STRICT;

CREATE TABLE releases (
    env          TEXT NOT NULL,
    id           TEXT NOT NULL,
    status       TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    config_hash  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    command_id   INTEGER,
    PRIMARY KEY (env, id)
) STRICT;

CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    env        TEXT,
    command_id INTEGER,
    kind       TEXT NOT NULL,
    message    TEXT NOT NULL,
    actor      TEXT NOT NULL
) STRICT;

CREATE INDEX events_by_env ON events (env, id);
CREATE INDEX events_by_command ON events (command_id, id);
