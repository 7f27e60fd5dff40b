//! The release chain on one host: which releases exist, their status, the doubly-linked
//! `previous`/`next` list over the kept (non-failed, complete) releases, and the decisions
//! made over it — where a new release links in, the rollback target, what prune removes,
//! how removing or failing a release relinks its neighbours. Pure: the host adapter reads
//! the layout into a `ReleaseChain` and applies the `LinkPlan`s it returns.
//!
//! Invariants (checked by `violations`, exercised by a property test):
//! - `live`, when set, names a release whose stored status is `Ready` or `Retired`;
//! - the chain is a consistent doubly-linked list over exactly the releases whose stored
//!   status is `Ready` or `Retired` (a.next = b ⇔ b.previous = a, one head, one tail, no cycle);
//! - `Uploading` and `Failed` releases have no links and are never a rollback target, nor
//!   counted toward `keep_releases`;
//! - prune never selects `live` or the release before it in the chain.

use serde::{Deserialize, Serialize};

use crate::release_id::ReleaseId;

/// The status stored in `meta/<id>/release.json`. `Live` is never stored: it is derived
/// from the `live` symlink and only appears in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseStatus {
    /// Being written; not complete.
    Uploading,
    /// Complete, never live yet or not live now and never was.
    Ready,
    /// The release `live` points at (reports only).
    Live,
    /// Complete but not usable: post-upload or health check failed, or an upload was cut off.
    Failed,
    /// Complete, was live before and is no longer.
    Retired,
}

/// One release as the chain sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseMeta {
    pub id: ReleaseId,
    pub status: ReleaseStatus,
    pub previous: Option<ReleaseId>,
    pub next: Option<ReleaseId>,
}

/// Link changes to apply to `meta/<id>/previous|next` symlinks (`None` removes the link).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkPlan {
    pub set_previous: Vec<(ReleaseId, Option<ReleaseId>)>,
    pub set_next: Vec<(ReleaseId, Option<ReleaseId>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("release `{0}` does not exist")]
    Unknown(ReleaseId),
    #[error("release `{0}` is live")]
    IsLive(ReleaseId),
    #[error("release `{id}` is {status:?}, not a usable release")]
    NotUsable {
        id: ReleaseId,
        status: ReleaseStatus,
    },
    #[error("there is no release before the live one to roll back to")]
    NoRollbackTarget,
    #[error("nothing is live")]
    NothingLive,
}

impl ChainError {
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Unknown(_) | Self::NotUsable { .. } => {
                "`hoist releases list ENV` shows the releases and their status"
            }
            Self::IsLive(_) => "roll back or deploy another release first, then remove this one",
            Self::NoRollbackTarget => "deploy a fixed release instead, or pick one with `--to ID`",
            Self::NothingLive => "deploy first with `hoist deploy ENV`",
        }
    }
}

/// The releases on one host and which one is live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseChain {
    releases: Vec<ReleaseMeta>,
    live: Option<ReleaseId>,
}
