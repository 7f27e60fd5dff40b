-- Scheduled commands: until when they may still start, who asked (an API token, or the
-- local user when null), which controller claimed them and until when; the controllers.
ALTER TABLE commands ADD COLUMN expires_at BIGINT;
ALTER TABLE commands ADD COLUMN requested_token BIGINT;
ALTER TABLE commands ADD COLUMN claimed_by TEXT;
ALTER TABLE commands ADD COLUMN claim_until BIGINT;

CREATE INDEX commands_by_claim_until ON commands (status, claim_until);

CREATE TABLE controllers (
    id         TEXT PRIMARY KEY,
    machine    TEXT NOT NULL,
    pid        BIGINT NOT NULL,
    listen     TEXT,
    wake       TEXT,
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL
);
