//! `MaskingStore`: a `Store` around another that replaces every known secret value with
//! `***` in the free text it keeps — step log entries, command errors, environment
//! failures, event messages, delivery errors — on the way in (so the value never reaches
//! the database, its WAL or a backup) and on the way out (so rows written by a process
//! that did not know a value are masked by one that does). The session wraps every store it
//! opens in one, which makes it the one path into and out of the store: the CLI, the API,
//! the scheduler and the webhook sender (whose bodies are built from stored events) all go
//! through it. Command arguments are kept as given: they are what a scheduled command runs.

use std::time::Duration;

use hoist_core::{CommandStatus, EnvName, HostAddress};
use jiff::Timestamp;

use crate::error::Result;
use crate::known_secrets::KnownSecrets;
use crate::ports::command_queue::{ChangeOutcome, CommandQueue, ControllerRecord, ScheduledChange};
use crate::ports::host::LockHolder;
use crate::ports::store::{
    CommandFilter, CommandRecord, EnvironmentRecord, Event, EventFilter, LeaseOutcome,
    LiveInstance, NewCommand, NewEvent, RegisteredHost, ReleaseRecord, StepLogEntry, Store,
};
use crate::ports::token_store::{NewToken, RevokeOutcome, TokenRecord, TokenStore};
use crate::ports::webhook_store::{
    Delivery, DeliveryAttempt, DeliveryFilter, NewWebhook, Webhook, WebhookStore,
};

pub struct MaskingStore {
    inner: Box<dyn Store>,
    known: KnownSecrets,
}

impl std::fmt::Debug for MaskingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaskingStore")
            .field("known", &self.known)
            .finish_non_exhaustive()
    }
}

impl MaskingStore {
    pub fn new(inner: Box<dyn Store>, known: KnownSecrets) -> Self {
        Self { inner, known }
    }

    fn command_out(&self, mut command: CommandRecord) -> CommandRecord {
        command.error = self.known.mask_option(command.error);
        command.steps = command
            .steps
            .into_iter()
            .map(|step| self.step(step))
            .collect();
        command
    }

    fn step(&self, mut step: StepLogEntry) -> StepLogEntry {
        step.step = self.known.mask_owned(step.step);
        step.detail = self.known.mask_option(step.detail);
        step
    }

    fn environment(&self, mut env: EnvironmentRecord) -> EnvironmentRecord {
        if let Some(failure) = env.failure.as_mut() {
            failure.error = self.known.mask(&failure.error).into_owned();
        }
        env
    }

    fn event(&self, mut event: NewEvent) -> NewEvent {
        event.message = self.known.mask_owned(event.message);
        event
    }

    fn delivery(&self, mut delivery: Delivery) -> Delivery {
        delivery.last_error = self.known.mask_option(delivery.last_error);
        delivery
    }

    fn outcome(&self, outcome: ChangeOutcome) -> ChangeOutcome {
        match outcome {
            ChangeOutcome::Changed(command) => ChangeOutcome::Changed(self.command_out(command)),
            ChangeOutcome::NotScheduled(command) => {
                ChangeOutcome::NotScheduled(self.command_out(command))
            }
            ChangeOutcome::Missing => ChangeOutcome::Missing,
        }
    }
}

impl Store for MaskingStore {
    fn environment(&self, name: &EnvName) -> Result<Option<EnvironmentRecord>> {
        Ok(self
            .inner
            .environment(name)?
            .map(|env| MaskingStore::environment(self, env)))
    }

    fn environments(&self) -> Result<Vec<EnvironmentRecord>> {
        Ok(self
            .inner
            .environments()?
            .into_iter()
            .map(|env| MaskingStore::environment(self, env))
            .collect())
    }

    fn save_environment(&self, env: &EnvironmentRecord) -> Result<()> {
        self.inner
            .save_environment(&MaskingStore::environment(self, env.clone()))
    }

    fn insert_command(&self, command: &NewCommand) -> Result<CommandRecord> {
        Ok(self.command_out(self.inner.insert_command(command)?))
    }

    fn set_command_status(
        &self,
        id: i64,
        status: CommandStatus,
        runner: Option<&LockHolder>,
        error: Option<&str>,
        at: Timestamp,
    ) -> Result<CommandRecord> {
        let error = error.map(|error| self.known.mask(error));
        let command = self
            .inner
            .set_command_status(id, status, runner, error.as_deref(), at)?;
        Ok(self.command_out(command))
    }

    fn append_command_step(&self, id: i64, entry: &StepLogEntry) -> Result<()> {
        self.inner
            .append_command_step(id, &self.step(entry.clone()))
    }

    fn command(&self, id: i64) -> Result<Option<CommandRecord>> {
        Ok(self
            .inner
            .command(id)?
            .map(|command| self.command_out(command)))
    }

    fn commands(&self, filter: &CommandFilter) -> Result<Vec<CommandRecord>> {
        Ok(self
            .inner
            .commands(filter)?
            .into_iter()
            .map(|command| self.command_out(command))
            .collect())
    }

    fn acquire_lease(
        &self,
        env: &EnvName,
        holder: &LockHolder,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<LeaseOutcome> {
        self.inner.acquire_lease(env, holder, ttl, now)
    }

    fn take_over_lease(
        &self,
        env: &EnvName,
        stale: &LockHolder,
        holder: &LockHolder,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool> {
        self.inner.take_over_lease(env, stale, holder, ttl, now)
    }

    fn renew_lease(
        &self,
        env: &EnvName,
        holder: &LockHolder,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool> {
        self.inner.renew_lease(env, holder, ttl, now)
    }

    fn release_lease(&self, env: &EnvName, holder: &LockHolder) -> Result<()> {
        self.inner.release_lease(env, holder)
    }

    fn save_release(&self, release: &ReleaseRecord) -> Result<()> {
        self.inner.save_release(release)
    }

    fn releases(&self, env: &EnvName) -> Result<Vec<ReleaseRecord>> {
        self.inner.releases(env)
    }

    fn register_host(&self, host: &RegisteredHost) -> Result<()> {
        self.inner.register_host(host)
    }

    fn registered_hosts(&self, env: &EnvName) -> Result<Vec<RegisteredHost>> {
        self.inner.registered_hosts(env)
    }

    fn unregister_host(&self, env: &EnvName, address: &HostAddress) -> Result<bool> {
        self.inner.unregister_host(env, address)
    }

    fn save_live_instance(&self, instance: &LiveInstance) -> Result<()> {
        self.inner.save_live_instance(instance)
    }

    fn live_instances(&self, env: &EnvName) -> Result<Vec<LiveInstance>> {
        self.inner.live_instances(env)
    }

    fn forget_live_instance(&self, env: &EnvName, host: Option<&str>) -> Result<bool> {
        self.inner.forget_live_instance(env, host)
    }

    fn append_event(&self, event: &NewEvent) -> Result<Event> {
        let stored = self.inner.append_event(&self.event(event.clone()))?;
        Ok(Event {
            id: stored.id,
            event: self.event(stored.event),
        })
    }

    fn events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        Ok(self
            .inner
            .events(filter)?
            .into_iter()
            .map(|stored| Event {
                id: stored.id,
                event: self.event(stored.event),
            })
            .collect())
    }
}

impl CommandQueue for MaskingStore {
    fn change_scheduled(
        &self,
        id: i64,
        change: ScheduledChange,
        now: Timestamp,
    ) -> Result<ChangeOutcome> {
        Ok(self.outcome(self.inner.change_scheduled(id, change, now)?))
    }

    fn claim_due(
        &self,
        controller: &str,
        now: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<CommandRecord>> {
        Ok(self
            .inner
            .claim_due(controller, now, until, limit)?
            .into_iter()
            .map(|command| self.command_out(command))
            .collect())
    }

    fn start_claimed(
        &self,
        id: i64,
        controller: &str,
        runner: &LockHolder,
        now: Timestamp,
    ) -> Result<Option<CommandRecord>> {
        Ok(self
            .inner
            .start_claimed(id, controller, runner, now)?
            .map(|command| self.command_out(command)))
    }

    fn renew_claims(&self, controller: &str, ids: &[i64], until: Timestamp) -> Result<Vec<i64>> {
        self.inner.renew_claims(controller, ids, until)
    }

    fn next_due(&self) -> Result<Option<Timestamp>> {
        self.inner.next_due()
    }

    fn save_controller(&self, controller: &ControllerRecord) -> Result<()> {
        self.inner.save_controller(controller)
    }

    fn controllers(&self) -> Result<Vec<ControllerRecord>> {
        self.inner.controllers()
    }

    fn forget_controller(&self, id: &str) -> Result<()> {
        self.inner.forget_controller(id)
    }

    fn watch_queue(&self, on_change: Box<dyn Fn() + Send>) -> Result<bool> {
        self.inner.watch_queue(on_change)
    }

    fn serve_long_running(&self) -> Result<()> {
        self.inner.serve_long_running()
    }
}

impl TokenStore for MaskingStore {
    fn create_token(&self, token: &NewToken) -> Result<TokenRecord> {
        self.inner.create_token(token)
    }

    fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>> {
        self.inner.token_by_hash(secret_hash)
    }

    fn token(&self, id: i64) -> Result<Option<TokenRecord>> {
        self.inner.token(id)
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>> {
        self.inner.tokens()
    }

    fn revoke_token(&self, id: i64, at: Timestamp) -> Result<RevokeOutcome> {
        self.inner.revoke_token(id, at)
    }

    fn touch_token(&self, id: i64, at: Timestamp) -> Result<()> {
        self.inner.touch_token(id, at)
    }
}

impl WebhookStore for MaskingStore {
    fn add_webhook(&self, hook: &NewWebhook) -> Result<Webhook> {
        self.inner.add_webhook(hook)
    }

    fn webhooks(&self) -> Result<Vec<Webhook>> {
        self.inner.webhooks()
    }

    fn remove_webhook(&self, id: i64) -> Result<bool> {
        self.inner.remove_webhook(id)
    }

    fn webhook_cursor(&self) -> Result<i64> {
        self.inner.webhook_cursor()
    }

    fn enqueue_deliveries(
        &self,
        pairs: &[(i64, i64)],
        cursor: i64,
        now: Timestamp,
    ) -> Result<usize> {
        self.inner.enqueue_deliveries(pairs, cursor, now)
    }

    fn claim_due_deliveries(
        &self,
        now: Timestamp,
        hold_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        Ok(self
            .inner
            .claim_due_deliveries(now, hold_until, limit)?
            .into_iter()
            .map(|delivery| self.delivery(delivery))
            .collect())
    }

    fn record_delivery_attempt(&self, id: i64, attempt: &DeliveryAttempt) -> Result<Delivery> {
        let mut attempt = attempt.clone();
        attempt.error = self.known.mask_option(attempt.error);
        Ok(self.delivery(self.inner.record_delivery_attempt(id, &attempt)?))
    }

    fn deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>> {
        Ok(self
            .inner
            .deliveries(filter)?
            .into_iter()
            .map(|delivery| self.delivery(delivery))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use hoist_core::Action;

    use super::*;
    use crate::adapters::sqlite_store::SqliteStore;

    const SECRET: &str = "sk-live-0123456789";

    #[test]
    fn no_known_value_reaches_the_inner_store_and_none_comes_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let known = KnownSecrets::default();
        known.add(SECRET);
        let store = MaskingStore::new(Box::new(SqliteStore::open(&path).unwrap()), known);
        let now = Timestamp::now();
        let env: EnvName = "dev".parse().unwrap();
        let command = store
            .insert_command(&NewCommand {
                kind: Action::Deploy,
                env: env.clone(),
                args: serde_json::json!({}),
                requested_by: "me".to_owned(),
                status: CommandStatus::Scheduled,
                execute_at: None,
                expires_at: None,
                requested_token: None,
                created_at: now,
            })
            .unwrap();
        store
            .set_command_status(command.id, CommandStatus::Running, None, None, now)
            .unwrap();
        store
            .append_command_step(
                command.id,
                &StepLogEntry {
                    step: "release".to_owned(),
                    ok: false,
                    started_at: now,
                    elapsed_ms: 1,
                    detail: Some(format!("hook failed: output:\n{SECRET}")),
                },
            )
            .unwrap();
        let failed = store
            .set_command_status(
                command.id,
                CommandStatus::Failed,
                None,
                Some(&format!("x {SECRET}")),
                now,
            )
            .unwrap();
        assert_eq!(failed.error.as_deref(), Some("x ***"));
        let event = store
            .append_event(&NewEvent {
                at: now,
                env: Some(env),
                command_id: Some(command.id),
                kind: "step.failed".to_owned(),
                message: format!("release failed: {SECRET}"),
                actor: "me".to_owned(),
            })
            .unwrap();
        assert_eq!(event.event.message, "release failed: ***");

        let shown = store.command(command.id).unwrap().unwrap();
        assert_eq!(
            shown.steps[0].detail.as_deref(),
            Some("hook failed: output:\n***")
        );
        drop(store);
        for file in ["state.db", "state.db-wal", "state.db-shm"] {
            let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
            assert!(
                !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "{file} holds the secret"
            );
        }
    }
}
