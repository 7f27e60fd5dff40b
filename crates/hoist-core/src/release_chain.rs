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

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::release_id::ReleaseId;

/// The status stored in `meta/<id>/release.json`. `Live` is never stored: it is derived
/// from the `live` symlink and only appears in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
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

/// Everything one decision changes, applied in this order (by `ReleaseChain::apply` in memory
/// and by the host layout on disk): add `added`, point `live`, set `links` (previous, then
/// next), write `statuses`, delete `removed`. The order keeps a cut-off change recoverable:
/// `live` moves before the old live is retired, and links are joined before a release goes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChainChange {
    /// A new release, `Uploading` and unlinked.
    pub added: Option<ReleaseId>,
    /// Where `live` points afterwards, when it moves.
    pub live: Option<ReleaseId>,
    pub links: LinkPlan,
    /// Stored statuses to write.
    pub statuses: Vec<(ReleaseId, ReleaseStatus)>,
    /// A release to delete, already unlinked by `links`.
    pub removed: Option<ReleaseId>,
}

impl ChainChange {
    /// Whether applying it changes nothing.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

impl LinkPlan {
    fn previous(&mut self, chain: &ReleaseChain, id: &ReleaseId, to: Option<&ReleaseId>) {
        if chain
            .get(id)
            .is_some_and(|meta| meta.previous.as_ref() != to)
        {
            self.set_previous.push((id.clone(), to.cloned()));
        }
    }

    fn next(&mut self, chain: &ReleaseChain, id: &ReleaseId, to: Option<&ReleaseId>) {
        if chain.get(id).is_some_and(|meta| meta.next.as_ref() != to) {
            self.set_next.push((id.clone(), to.cloned()));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.set_previous.is_empty() && self.set_next.is_empty()
    }
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
    #[error("release `{0}` already exists")]
    Exists(ReleaseId),
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
            Self::Exists(_) => {
                "a release id is the second and the content hash; release again in a second"
            }
        }
    }
}

/// The releases on one host and which one is live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseChain {
    releases: Vec<ReleaseMeta>,
    live: Option<ReleaseId>,
}

/// Whether a stored status belongs in the chain. A stored `Live` is itself a violation, but
/// counts as kept so one bad label does not also break the links.
fn is_kept(status: ReleaseStatus) -> bool {
    matches!(
        status,
        ReleaseStatus::Ready | ReleaseStatus::Retired | ReleaseStatus::Live
    )
}

impl ReleaseChain {
    pub fn new(mut releases: Vec<ReleaseMeta>, live: Option<ReleaseId>) -> Self {
        releases.sort_by(|a, b| a.id.cmp(&b.id));
        Self { releases, live }
    }

    pub fn live(&self) -> Option<&ReleaseId> {
        self.live.as_ref()
    }

    pub fn get(&self, id: &ReleaseId) -> Option<&ReleaseMeta> {
        self.releases.iter().find(|meta| &meta.id == id)
    }

    pub fn is_empty(&self) -> bool {
        self.releases.is_empty()
    }

    pub fn len(&self) -> usize {
        self.releases.len()
    }

    /// Reported status: `Live` for the live one, else the stored status.
    pub fn status_of(&self, id: &ReleaseId) -> Option<ReleaseStatus> {
        let meta = self.get(id)?;
        if self.live.as_ref() == Some(id) {
            Some(ReleaseStatus::Live)
        } else {
            Some(meta.status)
        }
    }

    /// Chained releases oldest → newest, following links from the head; then unchained
    /// (uploading/failed) ones by id.
    pub fn ordered(&self) -> Vec<&ReleaseMeta> {
        let mut ordered = self.chained();
        ordered.extend(self.releases.iter().filter(|meta| !is_kept(meta.status)));
        ordered
    }

    /// Kept releases in chain order. On a broken chain every head is walked in id order and
    /// what no walk reached (a cycle) follows by id, so each kept release appears once.
    fn chained(&self) -> Vec<&ReleaseMeta> {
        let kept = |id: &ReleaseId| self.get(id).filter(|meta| is_kept(meta.status));
        let mut seen = BTreeSet::new();
        let mut walk = Vec::new();
        let heads = self
            .releases
            .iter()
            .filter(|meta| is_kept(meta.status) && meta.previous.as_ref().and_then(kept).is_none());
        for head in heads {
            let mut current = Some(head);
            while let Some(meta) = current.filter(|meta| seen.insert(&meta.id)) {
                walk.push(meta);
                current = meta.next.as_ref().and_then(kept);
            }
        }
        let unreached: Vec<_> = self
            .releases
            .iter()
            .filter(|meta| is_kept(meta.status) && !seen.contains(&meta.id))
            .collect();
        walk.extend(unreached);
        walk
    }

    /// The newest chained release.
    pub fn tail(&self) -> Option<&ReleaseId> {
        self.chained().last().map(|meta| &meta.id)
    }

    /// The chained release just before `live`.
    pub fn before_live(&self) -> Option<&ReleaseId> {
        let live = self.live.as_ref()?;
        let chained = self.chained();
        let position = chained.iter().position(|meta| &meta.id == live)?;
        position.checked_sub(1).map(|before| &chained[before].id)
    }

    fn require(&self, id: &ReleaseId) -> Result<&ReleaseMeta, ChainError> {
        self.get(id).ok_or_else(|| ChainError::Unknown(id.clone()))
    }

    fn refuse_live(&self, id: &ReleaseId) -> Result<(), ChainError> {
        if self.live.as_ref() == Some(id) {
            return Err(ChainError::IsLive(id.clone()));
        }
        Ok(())
    }

    /// Links to apply when `id` (currently Uploading, unlinked) becomes Ready:
    /// `id.previous = tail`, `tail.next = id`. Empty when it is already chained.
    pub fn append(&self, id: &ReleaseId) -> Result<LinkPlan, ChainError> {
        let meta = self.require(id)?;
        let mut plan = LinkPlan::default();
        match meta.status {
            ReleaseStatus::Uploading => {
                let tail = self.tail().filter(|tail| *tail != id);
                plan.previous(self, id, tail);
                plan.next(self, id, None);
                if let Some(tail) = tail {
                    plan.next(self, tail, Some(id));
                }
                Ok(plan)
            }
            ReleaseStatus::Ready | ReleaseStatus::Retired | ReleaseStatus::Live => Ok(plan),
            status @ ReleaseStatus::Failed => Err(ChainError::NotUsable {
                id: id.clone(),
                status,
            }),
        }
    }

    /// Links to apply when `id` leaves the chain (removed or failed): its neighbours joined,
    /// its own links cleared. A neighbour is found by `id`'s link or, when that is missing
    /// (a cut-off change), by the release whose link names `id`. Refuses live.
    pub fn unlink(&self, id: &ReleaseId) -> Result<LinkPlan, ChainError> {
        let meta = self.require(id)?;
        self.refuse_live(id)?;
        let exists = |other: &&ReleaseId| self.get(other).is_some();
        let before = meta.previous.as_ref().filter(exists).or_else(|| {
            let pointing = self.releases.iter().find(|r| r.next.as_ref() == Some(id));
            pointing.map(|r| &r.id)
        });
        let after = meta.next.as_ref().filter(exists).or_else(|| {
            let pointing = self
                .releases
                .iter()
                .find(|r| r.previous.as_ref() == Some(id));
            pointing.map(|r| &r.id)
        });
        let mut plan = LinkPlan::default();
        if let Some(after) = after {
            plan.previous(self, after, before);
        }
        plan.previous(self, id, None);
        if let Some(before) = before {
            plan.next(self, before, after);
        }
        plan.next(self, id, None);
        Ok(plan)
    }

    /// `to = None`: the nearest chained release before live. `to = Some(id)`: that release,
    /// when it exists, is complete and is not live.
    pub fn rollback_target(&self, to: Option<&ReleaseId>) -> Result<ReleaseId, ChainError> {
        let Some(to) = to else {
            if self.live.is_none() {
                return Err(ChainError::NothingLive);
            }
            return self
                .before_live()
                .cloned()
                .ok_or(ChainError::NoRollbackTarget);
        };
        let meta = self.require(to)?;
        self.refuse_live(to)?;
        match meta.status {
            ReleaseStatus::Ready | ReleaseStatus::Retired => Ok(to.clone()),
            status => Err(ChainError::NotUsable {
                id: to.clone(),
                status,
            }),
        }
    }

    /// Failed releases, plus chained ones beyond the newest `keep` (at least one), never live
    /// nor the chained release just before live, never Uploading ones. Oldest first.
    pub fn prune_set(&self, keep: usize) -> Vec<ReleaseId> {
        let keep = keep.max(1);
        let chained = self.chained();
        let protected = [self.live.as_ref(), self.before_live()];
        let beyond_keep = chained.len().saturating_sub(keep);
        let old = chained[..beyond_keep]
            .iter()
            .copied()
            .filter(|meta| !protected.contains(&Some(&meta.id)));
        let failed = self
            .releases
            .iter()
            .filter(|meta| meta.status == ReleaseStatus::Failed);
        old.chain(failed).map(|meta| meta.id.clone()).collect()
    }

    /// A new release `id`, `Uploading` and unlinked.
    pub fn plan_upload(&self, id: &ReleaseId) -> Result<ChainChange, ChainError> {
        if self.get(id).is_some() {
            return Err(ChainError::Exists(id.clone()));
        }
        Ok(ChainChange {
            added: Some(id.clone()),
            ..ChainChange::default()
        })
    }

    /// An uploaded release becomes `Ready` at the end of the chain.
    pub fn plan_ready(&self, id: &ReleaseId) -> Result<ChainChange, ChainError> {
        let links = self.append(id)?;
        let mut change = ChainChange {
            links,
            ..ChainChange::default()
        };
        if self.require(id)?.status == ReleaseStatus::Uploading {
            change.statuses.push((id.clone(), ReleaseStatus::Ready));
        }
        Ok(change)
    }

    /// A release that is not live becomes `Failed` and leaves the chain.
    pub fn plan_failed(&self, id: &ReleaseId) -> Result<ChainChange, ChainError> {
        let links = self.unlink(id)?;
        Ok(ChainChange {
            links,
            statuses: vec![(id.clone(), ReleaseStatus::Failed)],
            ..ChainChange::default()
        })
    }

    /// `live` moves to a complete release; the old live becomes `Retired`. Empty when `id` is
    /// already live.
    pub fn plan_switch(&self, id: &ReleaseId) -> Result<ChainChange, ChainError> {
        let meta = self.require(id)?;
        if self.live.as_ref() == Some(id) {
            return Ok(ChainChange::default());
        }
        if !matches!(meta.status, ReleaseStatus::Ready | ReleaseStatus::Retired) {
            return Err(ChainError::NotUsable {
                id: id.clone(),
                status: meta.status,
            });
        }
        let retired = self.live.iter().filter(|old| self.get(old).is_some());
        Ok(ChainChange {
            live: Some(id.clone()),
            statuses: retired
                .map(|old| (old.clone(), ReleaseStatus::Retired))
                .collect(),
            ..ChainChange::default()
        })
    }

    /// A release that is not live leaves the chain and is deleted.
    pub fn plan_removal(&self, id: &ReleaseId) -> Result<ChainChange, ChainError> {
        Ok(ChainChange {
            links: self.unlink(id)?,
            removed: Some(id.clone()),
            ..ChainChange::default()
        })
    }

    /// Applies a change in memory, in the order the layout applies it on disk.
    pub fn apply(&mut self, change: &ChainChange) {
        if let Some(id) = &change.added {
            self.releases.push(ReleaseMeta {
                id: id.clone(),
                status: ReleaseStatus::Uploading,
                previous: None,
                next: None,
            });
            self.releases.sort_by(|a, b| a.id.cmp(&b.id));
        }
        if let Some(live) = &change.live {
            self.live = Some(live.clone());
        }
        for (id, previous) in &change.links.set_previous {
            if let Some(meta) = self.releases.iter_mut().find(|meta| &meta.id == id) {
                meta.previous.clone_from(previous);
            }
        }
        for (id, next) in &change.links.set_next {
            if let Some(meta) = self.releases.iter_mut().find(|meta| &meta.id == id) {
                meta.next.clone_from(next);
            }
        }
        for (id, status) in &change.statuses {
            if let Some(meta) = self.releases.iter_mut().find(|meta| &meta.id == id) {
                meta.status = *status;
            }
        }
        if let Some(id) = &change.removed {
            self.releases.retain(|meta| &meta.id != id);
        }
    }

    /// A copy with `change` applied.
    pub fn with_applied(&self, change: &ChainChange) -> Self {
        let mut chain = self.clone();
        chain.apply(change);
        chain
    }

    /// Every invariant broken (empty when consistent), human-readable.
    pub fn violations(&self) -> Vec<String> {
        let mut found = Vec::new();
        for pair in self.releases.windows(2) {
            if pair[0].id == pair[1].id {
                found.push(format!("release `{}` appears twice", pair[0].id));
            }
        }
        if let Some(live) = &self.live {
            match self.get(live) {
                None => found.push(format!(
                    "`live` names release `{live}`, which does not exist"
                )),
                Some(meta)
                    if !matches!(meta.status, ReleaseStatus::Ready | ReleaseStatus::Retired) =>
                {
                    found.push(format!(
                        "`live` names release `{live}`, which is {:?}",
                        meta.status
                    ));
                }
                Some(_) => {}
            }
        }
        for meta in &self.releases {
            self.link_violations(meta, &mut found);
        }
        let kept = self.releases.iter().filter(|m| is_kept(m.status)).count();
        let heads = self
            .releases
            .iter()
            .filter(|m| is_kept(m.status) && m.previous.is_none())
            .count();
        if kept > 0 && heads != 1 {
            found.push(format!("the chain has {heads} heads, not one"));
        }
        let reached = self.walk_from_head();
        if kept > 0 && reached != kept {
            found.push(format!(
                "the chain reaches {reached} of {kept} kept releases from its head"
            ));
        }
        found
    }

    /// How many releases following `next` from the first head reaches, stopping at a repeat.
    fn walk_from_head(&self) -> usize {
        let head = self
            .releases
            .iter()
            .find(|m| is_kept(m.status) && m.previous.is_none());
        let mut seen = BTreeSet::new();
        let mut current = head;
        while let Some(meta) = current.filter(|meta| seen.insert(&meta.id)) {
            current = meta.next.as_ref().and_then(|next| self.get(next));
        }
        seen.len()
    }

    fn link_violations(&self, meta: &ReleaseMeta, found: &mut Vec<String>) {
        let id = &meta.id;
        if meta.status == ReleaseStatus::Live {
            found.push(format!("release `{id}` has the status `live` stored"));
        }
        if !is_kept(meta.status) {
            if meta.previous.is_some() || meta.next.is_some() {
                found.push(format!("release `{id}` is {:?} but linked", meta.status));
            }
            return;
        }
        let links = [
            ("next", &meta.next, "previous"),
            ("previous", &meta.previous, "next"),
        ];
        for (name, link, back_name) in links {
            let Some(other) = link else { continue };
            let Some(other_meta) = self.get(other) else {
                found.push(format!("release `{id}` {name} names missing `{other}`"));
                continue;
            };
            if !is_kept(other_meta.status) {
                found.push(format!(
                    "release `{id}` {name} names `{other}`, which is {:?}",
                    other_meta.status
                ));
            }
            let back = if back_name == "previous" {
                &other_meta.previous
            } else {
                &other_meta.next
            };
            if back.as_ref() != Some(id) {
                found.push(format!(
                    "release `{id}` {name} is `{other}`, but its {back_name} is not `{id}`"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests;
