//! Dashboard sessions: a random id in an HttpOnly, SameSite=Strict cookie, kept in memory by
//! this `hoist serve` and bound to one token. Every request looks the token up again, so a
//! revoked token's session ends at its next request. Only the id's hash is kept, so what is
//! in memory cannot be replayed as a cookie. A restart of `hoist serve` signs everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The session cookie's name.
pub const COOKIE: &str = "hoist_session";
/// A session unused this long ends.
const IDLE: Duration = Duration::from_secs(12 * 3600);
/// A session ends this long after sign-in, however busy.
const LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// At most this many at once; the least recently used one goes first.
const CAPACITY: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_id: i64,
    /// The form token every state-changing form of this session carries.
    pub csrf: String,
    started: Instant,
    last_seen: Instant,
}

#[derive(Debug, Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// A new session for `token_id`; returns the cookie's value.
    pub fn open(&self, token_id: i64) -> Result<String> {
        let id = random_hex()?;
        let now = Instant::now();
        let session = Session {
            token_id,
            csrf: random_hex()?,
            started: now,
            last_seen: now,
        };
        let mut sessions = self.lock();
        sessions.retain(|_, session| live(session, now));
        if sessions.len() >= CAPACITY
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, session)| session.last_seen)
                .map(|(hash, _)| hash.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(hash(&id), session);
        Ok(id)
    }

    /// The live session the cookie names, marked as used now.
    pub fn find(&self, cookie: &str) -> Option<Session> {
        let now = Instant::now();
        let mut sessions = self.lock();
        let key = hash(cookie);
        let session = sessions.get_mut(&key)?;
        if !live(session, now) {
            sessions.remove(&key);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends the session the cookie names (sign-out).
    pub fn end(&self, cookie: &str) {
        self.lock().remove(&hash(cookie));
    }

    /// Ends every session of a token (it was revoked).
    pub fn end_token(&self, token_id: i64) {
        self.lock()
            .retain(|_, session| session.token_id != token_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves the map whole: keep using it.
        self.by_hash
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn live(session: &Session, now: Instant) -> bool {
    now.duration_since(session.last_seen) < IDLE && now.duration_since(session.started) < LIFETIME
}

fn hash(value: &str) -> String {
    hex(&Sha256::digest(value.as_bytes()))
}

/// 32 random bytes in hex.
pub fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|error| Error::internal("cannot draw random bytes for a session").cause(error))?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_cookie_and_ends_on_sign_out() {
        let sessions = Sessions::default();
        let cookie = sessions.open(7).unwrap();
        let found = sessions.find(&cookie).unwrap();
        assert_eq!(found.token_id, 7);
        assert_eq!(found.csrf.len(), 64);
        assert!(sessions.find("not-a-session").is_none());
        sessions.end(&cookie);
        assert!(sessions.find(&cookie).is_none());
    }

    #[test]
    fn ending_a_tokens_sessions_leaves_the_others() {
        let sessions = Sessions::default();
        let (a, b, c) = (
            sessions.open(1).unwrap(),
            sessions.open(1).unwrap(),
            sessions.open(2).unwrap(),
        );
        assert_ne!(a, b, "each sign-in is a session of its own");
        sessions.end_token(1);
        assert!(sessions.find(&a).is_none() && sessions.find(&b).is_none());
        assert!(sessions.find(&c).is_some());
    }

    #[test]
    fn only_the_hash_of_a_cookie_is_kept() {
        let sessions = Sessions::default();
        let cookie = sessions.open(3).unwrap();
        let kept = sessions.lock();
        assert!(!kept.contains_key(&cookie));
        assert!(kept.contains_key(&hash(&cookie)));
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", "a"));
    }
}
