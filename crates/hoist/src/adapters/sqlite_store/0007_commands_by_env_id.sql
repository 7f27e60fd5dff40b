-- The newest commands of one environment (the dashboard's "last command", `commands list
-- --env`) without reading the others'.
CREATE INDEX commands_by_env_id ON commands (env, id);
