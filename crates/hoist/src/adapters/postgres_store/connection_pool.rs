//! A few connections to one PostgreSQL database, shared by the threads of one process.
//!
//! A small pool rather than one client behind a mutex: the server runs statements of
//! different connections at once, so a slow statement (or one waiting on a row lock another
//! process holds) does not stall the other threads of this one, and a later command queue
//! can hold a `FOR UPDATE SKIP LOCKED` claim on one connection while the others keep working.
//! Each operation borrows one connection for its whole length, so its transaction is its own.
//!
//! A connection the server closed is noticed when it is next used: that operation fails, and
//! the pool drops the connection and opens a fresh one for the next.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use postgres::{Client, Config, NoTls};

/// At most this many connections per store: enough for the threads of one command (hosts
/// run in parallel, each recording its steps), few enough to be a polite client.
const MAX_CONNECTIONS: usize = 4;

pub(super) struct ConnectionPool {
    config: Config,
    state: Mutex<PoolState>,
    /// Signalled when a connection is given back or a slot frees up.
    returned: Condvar,
}

struct PoolState {
    idle: Vec<Client>,
    /// Connections that exist: idle ones plus those lent out (and those being opened).
    open: usize,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `Config`'s own Debug masks the password; the clients have nothing worth showing.
        f.debug_struct("ConnectionPool")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ConnectionPool {
    /// The connection settings, for a connection outside the pool (a long-lived `LISTEN`).
    pub(super) fn config(&self) -> Config {
        self.config.clone()
    }

    pub(super) fn new(config: Config) -> Self {
        Self {
            config,
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
        }
    }

    /// Runs `operation` on a connection: an idle one, else a new one, else the first one
    /// given back. Fails only when a new connection cannot be opened.
    pub(super) fn with<T>(
        &self,
        operation: impl FnOnce(&mut Client) -> T,
    ) -> Result<T, postgres::Error> {
        let (mut client, slot) = self.checkout()?;
        // A panic in `operation` drops the client (its open transaction, if any, is rolled
        // back by the server when the connection closes) and `slot` gives its place back.
        let outcome = operation(&mut client);
        slot.give_back(client);
        Ok(outcome)
    }

    fn checkout(&self) -> Result<(Client, Slot<'_>), postgres::Error> {
        let mut state = self.lock();
        loop {
            while let Some(client) = state.idle.pop() {
                if client.is_closed() {
                    state.open -= 1;
                    continue;
                }
                return Ok((client, Slot { pool: self }));
            }
            if state.open < MAX_CONNECTIONS {
                state.open += 1;
                break;
            }
            state = self
                .returned
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        drop(state);
        // Connected outside the lock: other threads keep using idle connections meanwhile.
        let slot = Slot { pool: self };
        let client = self.config.connect(NoTls)?;
        Ok((client, slot))
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // Only counts and idle clients live under this lock, and no code that can panic runs
        // while it is held: a poisoned lock still holds sound data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One connection's place in the pool while it is lent out. Dropped without `give_back`
/// (the connection was lost, or failed to open), it frees the place for a new connection.
struct Slot<'a> {
    pool: &'a ConnectionPool,
}

impl Slot<'_> {
    fn give_back(self, client: Client) {
        let mut state = self.pool.lock();
        if client.is_closed() {
            state.open -= 1;
        } else {
            state.idle.push(client);
        }
        drop(state);
        self.pool.returned.notify_one();
        // The place is accounted for above: skip `Drop`.
        std::mem::forget(self);
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.pool.lock().open -= 1;
        self.pool.returned.notify_one();
    }
}
