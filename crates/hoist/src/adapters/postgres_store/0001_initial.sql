-- The first schema, the SQLite store's `0001_initial` in PostgreSQL's words. Timestamps are
-- BIGINT milliseconds since the Unix epoch; enums are their lowercase names; LockHolder and
-- command arguments are JSON text. Ids come from identity columns: increasing, never reused.

CREATE TABLE environments (
    name               TEXT PRIMARY KEY,
    state              TEXT NOT NULL,
    failure_step       TEXT,
    failure_error      TEXT,
    failure_at         BIGINT,
    failure_command_id BIGINT,
    live_release       TEXT,
    pending_release    TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

-- One row per held environment; no foreign key, since `create` takes the lease before the
-- environment exists.
CREATE TABLE leases (
    env        TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE commands (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT NOT NULL,
    env          TEXT NOT NULL,
    args         TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    execute_at   BIGINT,
    started_at   BIGINT,
    finished_at  BIGINT,
    error        TEXT,
    runner       TEXT
);

CREATE INDEX commands_by_env_status ON commands (env, status);
CREATE INDEX commands_by_status_execute_at ON commands (status, execute_at);

CREATE TABLE command_steps (
    command_id BIGINT NOT NULL REFERENCES commands (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    step       TEXT NOT NULL,
    ok         BOOLEAN NOT NULL,
    started_at BIGINT NOT NULL,
    elapsed_ms BIGINT NOT NULL,
    detail     TEXT,
    PRIMARY KEY (command_id, seq)
);

CREATE TABLE releases (
    env          TEXT NOT NULL,
    id           TEXT NOT NULL,
    status       TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    config_hash  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    command_id   BIGINT,
    PRIMARY KEY (env, id)
);

CREATE TABLE events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         BIGINT NOT NULL,
    env        TEXT,
    command_id BIGINT,
    kind       TEXT NOT NULL,
    message    TEXT NOT NULL,
    actor      TEXT NOT NULL
);

CREATE INDEX events_by_env ON events (env, id);
CREATE INDEX events_by_command ON events (command_id, id);
