-- Hosts adopted with `hoist register` or listed by an environment's provision command,
-- besides the spec's own `hosts`.
CREATE TABLE registered_hosts (
    env      TEXT NOT NULL,
    address  TEXT NOT NULL,
    jump     TEXT,
    source   TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (env, address)
);
