//! The store ports forwarded to a database's statement functions, written once for both
//! databases. Each store module has the same submodules (`environments`, `commands`, `queue`,
//! `webhooks`, `tokens`, …) with one function per port method, taking the store's connection
//! first, and an inherent `run(doing, operation)` that lends it a connection and labels a
//! failure; the paths below resolve in the module that invokes the macro. Only the SQL
//! differs between the two (two dialects, different locking), and what a backend alone does
//! (`$queue_own`: SQLite's checkpoint thread, PostgreSQL's LISTEN) is passed in.

macro_rules! forward_store_ports {
    ($store:ty, { $($queue_own:tt)* }) => {
        impl Store for $store {
            fn environment(&self, name: &EnvName) -> Result<Option<EnvironmentRecord>> {
                self.run(format_args!("load environment `{name}`"), |db| {
                    environments::environment(db, name)
                })
            }

            fn environments(&self) -> Result<Vec<EnvironmentRecord>> {
                self.run("list environments", |db| {
                    environments::environments(db)
                })
            }

            fn save_environment(&self, env: &EnvironmentRecord) -> Result<()> {
                self.run(
                    format_args!("save environment `{}`", env.name),
                    |db| environments::save_environment(db, env),
                )
            }

            fn insert_command(&self, command: &NewCommand) -> Result<CommandRecord> {
                self.run(
                    format_args!("record `{}` command for `{}`", command.kind, command.env),
                    |db| commands::insert_command(db, command),
                )
            }

            fn set_command_status(
                &self,
                id: i64,
                status: CommandStatus,
                runner: Option<&LockHolder>,
                error: Option<&str>,
                at: Timestamp,
            ) -> Result<CommandRecord> {
                let change = commands::StatusChange { runner, error, at };
                self.run(format_args!("mark command {id} `{status}`"), |db| {
                    commands::set_command_status(db, id, status, &change)
                })
            }

            fn append_command_step(&self, id: i64, entry: &StepLogEntry) -> Result<()> {
                self.run(
                    format_args!("log step `{}` of command {id}", entry.step),
                    |db| commands::append_command_step(db, id, entry),
                )
            }

            fn command(&self, id: i64) -> Result<Option<CommandRecord>> {
                self.run(format_args!("load command {id}"), |db| {
                    commands::command(db, id)
                })
            }

            fn commands(&self, filter: &CommandFilter) -> Result<Vec<CommandRecord>> {
                self.run("list commands", |db| {
                    commands::commands(db, filter)
                })
            }

            fn acquire_lease(
                &self,
                env: &EnvName,
                holder: &LockHolder,
                ttl: Duration,
                now: Timestamp,
            ) -> Result<LeaseOutcome> {
                let term = leases::Term { ttl, now };
                self.run(format_args!("take the lease on `{env}`"), |db| {
                    leases::acquire_lease(db, env, holder, &term)
                })
            }

            fn take_over_lease(
                &self,
                env: &EnvName,
                stale: &LockHolder,
                holder: &LockHolder,
                ttl: Duration,
                now: Timestamp,
            ) -> Result<bool> {
                let term = leases::Term { ttl, now };
                self.run(
                    format_args!("take over the lease on `{env}`"),
                    |db| leases::take_over_lease(db, env, stale, holder, &term),
                )
            }

            fn renew_lease(
                &self,
                env: &EnvName,
                holder: &LockHolder,
                ttl: Duration,
                now: Timestamp,
            ) -> Result<bool> {
                let term = leases::Term { ttl, now };
                self.run(format_args!("renew the lease on `{env}`"), |db| {
                    leases::renew_lease(db, env, holder, &term)
                })
            }

            fn release_lease(&self, env: &EnvName, holder: &LockHolder) -> Result<()> {
                self.run(format_args!("release the lease on `{env}`"), |db| {
                    leases::release_lease(db, env, holder)
                })
            }

            fn save_release(&self, release: &ReleaseRecord) -> Result<()> {
                self.run(
                    format_args!("save release `{}` of `{}`", release.id, release.env),
                    |db| environments::save_release(db, release),
                )
            }

            fn releases(&self, env: &EnvName) -> Result<Vec<ReleaseRecord>> {
                self.run(format_args!("list releases of `{env}`"), |db| {
                    environments::releases(db, env)
                })
            }

            fn register_host(&self, host: &RegisteredHost) -> Result<()> {
                self.run(
                    format_args!("register host `{}` in `{}`", host.address, host.env),
                    |db| hosts::register_host(db, host),
                )
            }

            fn registered_hosts(&self, env: &EnvName) -> Result<Vec<RegisteredHost>> {
                self.run(
                    format_args!("list the registered hosts of `{env}`"),
                    |db| hosts::registered_hosts(db, env),
                )
            }

            fn unregister_host(&self, env: &EnvName, address: &HostAddress) -> Result<bool> {
                self.run(
                    format_args!("unregister host `{address}` from `{env}`"),
                    |db| hosts::unregister_host(db, env, &address.to_string()),
                )
            }

            fn save_live_instance(&self, instance: &LiveInstance) -> Result<()> {
                self.run(
                    format_args!(
                        "record the live instance of `{}` on `{}`",
                        instance.env, instance.host
                    ),
                    |db| live_instances::save(db, instance),
                )
            }

            fn live_instances(&self, env: &EnvName) -> Result<Vec<LiveInstance>> {
                self.run(
                    format_args!("list the live instances of `{env}`"),
                    |db| live_instances::list(db, env),
                )
            }

            fn forget_live_instance(&self, env: &EnvName, host: Option<&str>) -> Result<bool> {
                self.run(
                    format_args!("forget live instances of `{env}`"),
                    |db| live_instances::forget(db, env, host),
                )
            }

            fn append_event(&self, event: &NewEvent) -> Result<Event> {
                self.run(
                    format_args!("record event `{}`", event.kind),
                    |db| events::append_event(db, event),
                )
            }

            fn events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
                self.run("list events", |db| {
                    events::events(db, filter)
                })
            }
        }

        impl CommandQueue for $store {
            fn change_scheduled(
                &self,
                id: i64,
                change: ScheduledChange,
                now: Timestamp,
            ) -> Result<ChangeOutcome> {
                self.run(
                    format_args!("change scheduled command {id}"),
                    |db| queue::change_scheduled(db, id, change, now),
                )
            }

            fn claim_due(
                &self,
                controller: &str,
                now: Timestamp,
                until: Timestamp,
                limit: usize,
            ) -> Result<Vec<CommandRecord>> {
                self.run("claim due commands", |db| {
                    queue::claim_due(db, controller, now, until, limit)
                })
            }

            fn start_claimed(
                &self,
                id: i64,
                controller: &str,
                runner: &LockHolder,
                now: Timestamp,
            ) -> Result<Option<CommandRecord>> {
                self.run(format_args!("start command {id}"), |db| {
                    queue::start_claimed(db, id, controller, runner, now)
                })
            }

            fn renew_claims(&self, controller: &str, ids: &[i64], until: Timestamp) -> Result<Vec<i64>> {
                self.run("renew command claims", |db| {
                    queue::renew_claims(db, controller, ids, until)
                })
            }

            fn next_due(&self) -> Result<Option<Timestamp>> {
                self.run("find the next due command", |db| {
                    queue::next_due(db)
                })
            }

            fn save_controller(&self, controller: &ControllerRecord) -> Result<()> {
                self.run("record this controller", |db| {
                    queue::save_controller(db, controller)
                })
            }

            fn controllers(&self) -> Result<Vec<ControllerRecord>> {
                self.run("list controllers", |db| {
                    queue::controllers(db)
                })
            }

            fn forget_controller(&self, id: &str) -> Result<()> {
                self.run("forget a controller", |db| {
                    queue::forget_controller(db, id)
                })
            }

                $($queue_own)*
            }

        impl WebhookStore for $store {
            fn add_webhook(&self, hook: &NewWebhook) -> Result<Webhook> {
                let sealed = self.keeper.seal_hook(hook)?;
                let mut added = self.run(format_args!("add webhook `{}`", hook.url), |db| {
                    webhooks::add_webhook(db, &sealed)
                })?;
                added.secret = hook.secret.clone();
                Ok(added)
            }

            fn webhooks(&self) -> Result<Vec<Webhook>> {
                self.run("list webhooks", |db| webhooks::webhooks(db))?
                    .into_iter()
                    .map(|hook| self.keeper.open_hook(hook))
                    .collect()
            }

            fn remove_webhook(&self, id: i64) -> Result<bool> {
                self.run(format_args!("remove webhook {id}"), |db| {
                    webhooks::remove_webhook(db, id)
                })
            }

            fn webhook_cursor(&self) -> Result<i64> {
                self.run("read the webhook cursor", |db| {
                    webhooks::webhook_cursor(db)
                })
            }

            fn enqueue_deliveries(
                &self,
                pairs: &[(i64, i64)],
                cursor: i64,
                now: Timestamp,
            ) -> Result<usize> {
                self.run("record webhook deliveries", |db| {
                    webhooks::enqueue_deliveries(db, pairs, cursor, now)
                })
            }

            fn claim_due_deliveries(
                &self,
                now: Timestamp,
                hold_until: Timestamp,
                limit: usize,
            ) -> Result<Vec<Delivery>> {
                self.run("claim due webhook deliveries", |db| {
                    webhooks::claim_due_deliveries(db, now, hold_until, limit)
                })
            }

            fn record_delivery_attempt(&self, id: i64, attempt: &DeliveryAttempt) -> Result<Delivery> {
                self.run(
                    format_args!("record an attempt of webhook delivery {id}"),
                    |db| webhooks::record_delivery_attempt(db, id, attempt),
                )
            }

            fn deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>> {
                self.run("list webhook deliveries", |db| {
                    webhooks::deliveries(db, filter)
                })
            }
        }

        impl TokenStore for $store {
            fn create_token(&self, token: &NewToken) -> Result<TokenRecord> {
                self.run(
                    format_args!("record token `{}`", token.name),
                    |db| tokens::create_token(db, token),
                )
            }

            fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>> {
                self.run("look a token up", |db| {
                    tokens::token_by_hash(db, secret_hash)
                })
            }

            fn token(&self, id: i64) -> Result<Option<TokenRecord>> {
                self.run(format_args!("load token {id}"), |db| {
                    tokens::token(db, id)
                })
            }

            fn tokens(&self) -> Result<Vec<TokenRecord>> {
                self.run("list tokens", |db| tokens::tokens(db))
            }

            fn revoke_token(&self, id: i64, at: Timestamp) -> Result<RevokeOutcome> {
                self.run(format_args!("revoke token {id}"), |db| {
                    tokens::revoke_token(db, id, at)
                })
            }

            fn touch_token(&self, id: i64, at: Timestamp) -> Result<()> {
                self.run(format_args!("record the use of token {id}"), |db| {
                    tokens::touch_token(db, id, at)
                })
            }
        }
    };
}

pub(crate) use forward_store_ports;
