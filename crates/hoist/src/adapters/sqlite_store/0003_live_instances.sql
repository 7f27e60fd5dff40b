-- The instance serving each host of an environment, recorded by `run` as soon as the route
-- (or, with recreate, the port) is its, so `check` can compare it with what the host runs.
CREATE TABLE live_instances (
    env         TEXT NOT NULL,
    host        TEXT NOT NULL,
    slot        TEXT NOT NULL,
    release     TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    port        INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (env, host)
) STRICT;
