-- Webhooks: the hooks (the secret is kept to sign with), one delivery per (hook, event)
-- with its attempts, and the cursor: the last event id turned into deliveries. A hook
-- receives only events after `after_event_id`, the newest one when it was added.
CREATE TABLE webhooks (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url            TEXT NOT NULL,
    env            TEXT,
    kinds          TEXT NOT NULL,
    secret         TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    after_event_id BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hook_id         BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        BIGINT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (hook_id, event_id)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

CREATE TABLE webhook_cursor (
    name     TEXT PRIMARY KEY,
    event_id BIGINT NOT NULL
);

CREATE INDEX events_by_at ON events (at, id);
