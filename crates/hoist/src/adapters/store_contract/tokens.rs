//! The contract's token part: create, look up by hash, list, revoke, touch, name reuse.

use hoist_core::access::Role;

use super::{TestResult, at, env};
use crate::ports::store::Store;
use crate::ports::token_store::{NewToken, RevokeOutcome};

fn new_token(name: &str, role: Role, hash: &str) -> NewToken {
    NewToken {
        name: name.to_owned(),
        role,
        envs: Vec::new(),
        secret_hash: hash.repeat(64),
        created_by: "alice@ci-7".to_owned(),
        created_at: at(1_000),
    }
}

pub(super) fn tokens_create_find_revoke(store: &dyn Store) -> TestResult {
    assert_eq!(store.tokens()?, []);
    let mut ci = new_token("ci-staging", Role::Deployer, "a");
    ci.envs = vec![env("staging"), env("preview-1")];
    let ci = store.create_token(&ci)?;
    let admin = store.create_token(&new_token("ops", Role::Admin, "b"))?;
    assert!(admin.id > ci.id, "ids increase");
    assert_eq!(ci.name, "ci-staging");
    assert_eq!(ci.role, Role::Deployer);
    assert_eq!(ci.envs, [env("staging"), env("preview-1")]);
    assert_eq!(ci.created_by, "alice@ci-7");
    assert_eq!(ci.created_at, at(1_000));
    assert_eq!((ci.last_used_at, ci.revoked_at), (None, None));

    let duplicate = store.create_token(&new_token("ci-staging", Role::Viewer, "c"));
    let message = duplicate
        .err()
        .map(|error| error.message)
        .unwrap_or_default();
    assert!(
        message.contains("already exists"),
        "duplicate name: {message:?}"
    );

    assert_eq!(store.token_by_hash(&"a".repeat(64))?, Some(ci.clone()));
    assert_eq!(store.token_by_hash(&"z".repeat(64))?, None);
    assert_eq!(store.tokens()?, [ci.clone(), admin.clone()]);

    store.touch_token(ci.id, at(2_000))?;
    let touched = store.token(ci.id)?.ok_or("touched token vanished")?;
    assert_eq!(touched.last_used_at, Some(at(2_000)));

    let RevokeOutcome::Revoked(revoked) = store.revoke_token(ci.id, at(3_000))? else {
        return Err("revoking a live token did not revoke it".into());
    };
    assert_eq!(revoked.revoked_at, Some(at(3_000)));
    assert_eq!(
        store.token_by_hash(&"a".repeat(64))?,
        None,
        "revoked tokens never match"
    );
    assert_eq!(
        store.token(ci.id)?,
        Some(revoked.clone()),
        "but stay listed"
    );
    assert_eq!(
        store.revoke_token(ci.id, at(4_000))?,
        RevokeOutcome::AlreadyRevoked(revoked)
    );
    assert_eq!(
        store.revoke_token(9_999, at(4_000))?,
        RevokeOutcome::Missing
    );
    assert_eq!(store.token(9_999)?, None);

    // The name of a revoked token can be used again.
    let again = store.create_token(&new_token("ci-staging", Role::Viewer, "d"))?;
    assert_eq!(store.tokens()?.len(), 3);
    assert_eq!(store.token_by_hash(&"d".repeat(64))?, Some(again));
    Ok(())
}
