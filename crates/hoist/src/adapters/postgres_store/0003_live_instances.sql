-- The instance serving each host of an environment, recorded by `run` as soon as the route
-- (or, with recreate, the port) is its, so `check` can compare it with what the host runs.
CREATE TABLE live_instances (
    env         TEXT NOT NULL,
    host        TEXT NOT NULL,
    slot        TEXT NOT NULL,
    release     TEXT NOT NULL,
    pid         BIGINT NOT NULL,
    port        BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (env, host)
);
