//! The contract's lease parts: acquire, hold, expiry, takeover, renewal, release.

use std::time::Duration;

use super::{TestResult, at, env, holder};
use crate::ports::store::{LeaseOutcome, Store};

pub(super) fn lease_acquire_hold_expire(store: &dyn Store) -> TestResult {
    let minute = Duration::from_secs(60);
    let (alice, bob) = (holder("alice", 1), holder("bob", 2));
    let prod = env("lease-prod");
    assert_eq!(
        store.acquire_lease(&prod, &alice, minute, at(0))?,
        LeaseOutcome::Acquired
    );
    assert_eq!(
        store.acquire_lease(&prod, &bob, minute, at(10_000))?,
        LeaseOutcome::Held {
            holder: alice.clone(),
            expires_at: at(60_000)
        }
    );
    assert_eq!(
        store.acquire_lease(&prod, &alice, minute, at(59_999))?,
        LeaseOutcome::Held {
            holder: alice.clone(),
            expires_at: at(60_000)
        },
        "acquiring is not re-entrant"
    );
    assert_eq!(
        store.acquire_lease(&env("lease-other"), &bob, minute, at(10_000))?,
        LeaseOutcome::Acquired,
        "leases are per environment"
    );
    // `expires_at <= now` is expired.
    assert_eq!(
        store.acquire_lease(&prod, &bob, minute, at(60_000))?,
        LeaseOutcome::Acquired
    );
    assert_eq!(
        store.acquire_lease(&prod, &alice, minute, at(60_001))?,
        LeaseOutcome::Held {
            holder: bob,
            expires_at: at(120_000)
        }
    );
    Ok(())
}

pub(super) fn lease_take_over_renew_release(store: &dyn Store) -> TestResult {
    let minute = Duration::from_secs(60);
    let (alice, bob, carol) = (holder("alice", 1), holder("bob", 2), holder("carol", 3));
    let staging = env("lease-staging");
    assert!(
        !store.renew_lease(&staging, &alice, minute, at(0))?,
        "nothing to renew"
    );
    assert!(!store.take_over_lease(&staging, &alice, &bob, minute, at(0))?);
    store.release_lease(&staging, &alice)?;

    assert_eq!(
        store.acquire_lease(&staging, &alice, minute, at(0))?,
        LeaseOutcome::Acquired
    );
    assert!(!store.renew_lease(&staging, &bob, minute, at(30_000))?);
    assert!(store.renew_lease(&staging, &alice, minute, at(30_000))?);
    let held_until = |expires_at| LeaseOutcome::Held {
        holder: alice.clone(),
        expires_at,
    };
    assert_eq!(
        store.acquire_lease(&staging, &bob, minute, at(70_000))?,
        held_until(at(90_000))
    );

    let mut almost_alice = alice.clone();
    almost_alice.pid += 1;
    assert!(
        !store.take_over_lease(&staging, &almost_alice, &bob, minute, at(71_000))?,
        "every field of the stale holder must match"
    );
    assert!(!store.take_over_lease(&staging, &carol, &bob, minute, at(71_000))?);
    assert!(store.take_over_lease(&staging, &alice, &bob, minute, at(71_000))?);
    assert_eq!(
        store.acquire_lease(&staging, &carol, minute, at(72_000))?,
        LeaseOutcome::Held {
            holder: bob.clone(),
            expires_at: at(131_000)
        }
    );
    assert!(
        !store.renew_lease(&staging, &alice, minute, at(72_000))?,
        "alice lost it"
    );

    store.release_lease(&staging, &alice)?;
    assert!(
        matches!(store.acquire_lease(&staging, &carol, minute, at(73_000))?, LeaseOutcome::Held { holder, .. } if holder == bob),
        "only the holder releases"
    );
    store.release_lease(&staging, &bob)?;
    assert_eq!(
        store.acquire_lease(&staging, &carol, minute, at(73_000))?,
        LeaseOutcome::Acquired
    );
    Ok(())
}
