-- Webhooks: the hooks (the secret is kept to sign with), one delivery per (hook, event)
-- with its attempts, and the cursor: the last event id turned into deliveries. A hook
-- receives only events after `after_event_id`, the newest one when it was added.
CREATE TABLE webhooks (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    url            TEXT NOT NULL,
    env            TEXT,
    kinds          TEXT NOT NULL,
    secret         TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    after_event_id INTEGER NOT NULL
) STRICT;

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    hook_id         INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        INTEGER NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (hook_id, event_id)
) STRICT;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

CREATE TABLE webhook_cursor (
    name     TEXT PRIMARY KEY,
    event_id INTEGER NOT NULL
) STRICT;

CREATE INDEX events_by_at ON events (at, id);
