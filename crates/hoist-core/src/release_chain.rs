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
mod tests {
    use proptest::prelude::*;

    use super::*;
    use ReleaseStatus::{Failed, Ready, Retired, Uploading};

    fn id(n: u32) -> ReleaseId {
        format!("20261121T{n:06}Z-0000abcd").parse().unwrap()
    }

    fn meta(
        n: u32,
        status: ReleaseStatus,
        previous: Option<u32>,
        next: Option<u32>,
    ) -> ReleaseMeta {
        ReleaseMeta {
            id: id(n),
            status,
            previous: previous.map(id),
            next: next.map(id),
        }
    }

    /// Uploads and readies `ready` in order through the chain's own plans, then switches live.
    fn chain_of(ready: &[u32], live: Option<u32>) -> ReleaseChain {
        let mut chain = ReleaseChain::new(Vec::new(), None);
        for &n in ready {
            chain.apply(&chain.plan_upload(&id(n)).unwrap());
            chain.apply(&chain.plan_ready(&id(n)).unwrap());
        }
        if let Some(n) = live {
            chain.apply(&chain.plan_switch(&id(n)).unwrap());
        }
        assert_eq!(chain.violations(), Vec::<String>::new());
        chain
    }

    fn order(chain: &ReleaseChain) -> Vec<ReleaseId> {
        chain.ordered().iter().map(|meta| meta.id.clone()).collect()
    }

    #[test]
    fn append_links_after_the_tail() {
        let mut chain = chain_of(&[1, 2], None);
        chain.apply(&chain.plan_upload(&id(3)).unwrap());
        let plan = chain.append(&id(3)).unwrap();
        assert_eq!(plan.set_previous, vec![(id(3), Some(id(2)))]);
        assert_eq!(plan.set_next, vec![(id(2), Some(id(3)))]);
        assert_eq!(chain.tail(), Some(&id(2)));
        chain.apply(&chain.plan_ready(&id(3)).unwrap());
        assert_eq!(chain.tail(), Some(&id(3)));
        assert_eq!(order(&chain), vec![id(1), id(2), id(3)]);
    }

    #[test]
    fn append_to_an_empty_chain_links_nothing() {
        let chain = ReleaseChain::new(vec![meta(1, Uploading, None, None)], None);
        assert!(chain.append(&id(1)).unwrap().is_empty());
        let ready = chain.with_applied(&chain.plan_ready(&id(1)).unwrap());
        assert_eq!(ready.status_of(&id(1)), Some(Ready));
        assert!(ready.violations().is_empty());
    }

    #[test]
    fn append_refuses_failed_and_unknown_and_is_idempotent() {
        let chain = ReleaseChain::new(
            vec![meta(1, Ready, None, None), meta(2, Failed, None, None)],
            None,
        );
        assert!(matches!(
            chain.append(&id(2)),
            Err(ChainError::NotUsable { .. })
        ));
        assert_eq!(chain.append(&id(9)), Err(ChainError::Unknown(id(9))));
        assert!(chain.plan_ready(&id(1)).unwrap().is_empty());
    }

    #[test]
    fn unlink_joins_neighbours() {
        let chain = chain_of(&[1, 2, 3], Some(3));
        let plan = chain.unlink(&id(2)).unwrap();
        assert_eq!(plan.set_previous, vec![(id(3), Some(id(1))), (id(2), None)]);
        assert_eq!(plan.set_next, vec![(id(1), Some(id(3))), (id(2), None)]);
        let removed = chain.with_applied(&chain.plan_removal(&id(2)).unwrap());
        assert_eq!(order(&removed), vec![id(1), id(3)]);
        assert!(removed.violations().is_empty());
    }

    #[test]
    fn unlink_ends_of_the_chain() {
        let chain = chain_of(&[1, 2, 3], Some(2));
        let head_gone = chain.with_applied(&chain.plan_removal(&id(1)).unwrap());
        assert_eq!(order(&head_gone), vec![id(2), id(3)]);
        assert!(head_gone.violations().is_empty());
        let tail_gone = chain.with_applied(&chain.plan_failed(&id(3)).unwrap());
        assert_eq!(order(&tail_gone), vec![id(1), id(2), id(3)]);
        assert_eq!(tail_gone.tail(), Some(&id(2)));
        assert_eq!(tail_gone.status_of(&id(3)), Some(Failed));
        assert!(tail_gone.violations().is_empty());
    }

    #[test]
    fn unlink_refuses_live_and_unknown() {
        let chain = chain_of(&[1, 2], Some(2));
        assert_eq!(chain.unlink(&id(2)), Err(ChainError::IsLive(id(2))));
        assert_eq!(chain.plan_failed(&id(2)), Err(ChainError::IsLive(id(2))));
        assert_eq!(chain.plan_removal(&id(2)), Err(ChainError::IsLive(id(2))));
        assert_eq!(chain.unlink(&id(7)), Err(ChainError::Unknown(id(7))));
    }

    #[test]
    fn unlink_repairs_a_half_applied_append() {
        // `2.next = 3` was written, `3.previous = 2` was not: 3 still counts as 2's neighbour.
        let chain = ReleaseChain::new(
            vec![
                meta(1, Ready, None, Some(2)),
                meta(2, Ready, Some(1), Some(3)),
                meta(3, Uploading, None, None),
            ],
            None,
        );
        assert!(!chain.violations().is_empty());
        let failed = chain.with_applied(&chain.plan_failed(&id(3)).unwrap());
        assert_eq!(failed.violations(), Vec::<String>::new());
    }

    #[test]
    fn switch_retires_the_old_live_and_refuses_incomplete() {
        let mut chain = chain_of(&[1, 2], Some(1));
        let change = chain.plan_switch(&id(2)).unwrap();
        assert_eq!(change.live, Some(id(2)));
        assert_eq!(change.statuses, vec![(id(1), Retired)]);
        chain.apply(&change);
        assert_eq!(chain.status_of(&id(2)), Some(ReleaseStatus::Live));
        assert_eq!(chain.status_of(&id(1)), Some(Retired));
        assert!(chain.plan_switch(&id(2)).unwrap().is_empty());
        chain.apply(&chain.plan_upload(&id(3)).unwrap());
        assert_eq!(
            chain.plan_switch(&id(3)),
            Err(ChainError::NotUsable {
                id: id(3),
                status: Uploading
            })
        );
    }

    #[test]
    fn rollback_goes_to_the_release_before_live() {
        let chain = chain_of(&[1, 2, 3], Some(3));
        assert_eq!(chain.rollback_target(None), Ok(id(2)));
        let back = chain.with_applied(&chain.plan_switch(&id(2)).unwrap());
        assert_eq!(back.rollback_target(None), Ok(id(1)));
        let first = chain_of(&[1, 2], Some(1));
        assert_eq!(
            first.rollback_target(None),
            Err(ChainError::NoRollbackTarget)
        );
        let none = chain_of(&[1], None);
        assert_eq!(none.rollback_target(None), Err(ChainError::NothingLive));
    }

    #[test]
    fn rollback_skips_failed_releases() {
        let chain = chain_of(&[1, 2, 3], Some(3));
        let chain = chain.with_applied(&chain.plan_failed(&id(2)).unwrap());
        assert_eq!(chain.rollback_target(None), Ok(id(1)));
        assert!(matches!(
            chain.rollback_target(Some(&id(2))),
            Err(ChainError::NotUsable { status: Failed, .. })
        ));
    }

    #[test]
    fn rollback_to_a_named_release() {
        let chain = chain_of(&[1, 2, 3], Some(2));
        assert_eq!(chain.rollback_target(Some(&id(3))), Ok(id(3)));
        assert_eq!(chain.rollback_target(Some(&id(1))), Ok(id(1)));
        assert_eq!(
            chain.rollback_target(Some(&id(2))),
            Err(ChainError::IsLive(id(2)))
        );
        assert_eq!(
            chain.rollback_target(Some(&id(8))),
            Err(ChainError::Unknown(id(8)))
        );
    }

    #[test]
    fn prune_keeps_the_newest_and_protects_live_and_its_previous() {
        let chain = chain_of(&[1, 2, 3, 4, 5, 6], Some(3));
        assert_eq!(chain.prune_set(2), vec![id(1), id(4)]);
        assert_eq!(chain.prune_set(0), vec![id(1), id(4), id(5)]);
        let latest = chain_of(&[1, 2, 3, 4, 5], Some(5));
        assert_eq!(latest.prune_set(3), vec![id(1), id(2)]);
        assert_eq!(latest.prune_set(1), vec![id(1), id(2), id(3)]);
    }

    #[test]
    fn prune_takes_failed_but_never_uploading() {
        let mut chain = chain_of(&[1, 2, 3], Some(3));
        chain.apply(&chain.plan_failed(&id(2)).unwrap());
        chain.apply(&chain.plan_upload(&id(4)).unwrap());
        assert_eq!(chain.prune_set(5), vec![id(2)]);
        assert_eq!(chain.prune_set(1), vec![id(2)]);
    }

    #[test]
    fn upload_refuses_an_existing_id() {
        let chain = chain_of(&[1], None);
        assert_eq!(chain.plan_upload(&id(1)), Err(ChainError::Exists(id(1))));
    }

    #[test]
    fn ordered_puts_unchained_releases_last() {
        let mut chain = chain_of(&[5, 2], Some(2));
        chain.apply(&chain.plan_upload(&id(1)).unwrap());
        assert_eq!(order(&chain), vec![id(5), id(2), id(1)]);
        assert_eq!(chain.tail(), Some(&id(2)));
    }

    #[test]
    fn violations_name_each_broken_invariant() {
        let cases = [
            (vec![meta(1, Ready, None, None)], Some(2), "does not exist"),
            (
                vec![meta(1, Failed, None, None)],
                Some(1),
                "which is Failed",
            ),
            (
                vec![
                    meta(1, Uploading, Some(2), None),
                    meta(2, Ready, None, None),
                ],
                None,
                "but linked",
            ),
            (
                vec![meta(1, Ready, None, Some(2)), meta(2, Ready, None, None)],
                None,
                "its previous is not",
            ),
            (
                vec![meta(1, Ready, None, None), meta(2, Ready, None, None)],
                None,
                "2 heads",
            ),
            (
                vec![
                    meta(1, Ready, Some(2), Some(2)),
                    meta(2, Ready, Some(1), Some(1)),
                ],
                None,
                "0 heads",
            ),
            (
                vec![meta(1, ReleaseStatus::Live, None, None)],
                None,
                "stored",
            ),
            (vec![meta(1, Ready, None, Some(9))], None, "names missing"),
        ];
        for (releases, live, expected) in cases {
            let chain = ReleaseChain::new(releases, live.map(id));
            let found = chain.violations();
            assert!(
                found.iter().any(|v| v.contains(expected)),
                "{expected:?} not in {found:?}"
            );
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Release,
        /// Fails after upload (`false`) or after ready, by a health check (`true`).
        FailedRelease(bool),
        StuckUpload,
        DiscardIncomplete,
        Switch(usize),
        Rollback(Option<usize>),
        Remove(usize),
        Fail(usize),
        Prune(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => Just(Op::Release),
            2 => any::<bool>().prop_map(Op::FailedRelease),
            1 => Just(Op::StuckUpload),
            1 => Just(Op::DiscardIncomplete),
            3 => any::<usize>().prop_map(Op::Switch),
            2 => proptest::option::of(any::<usize>()).prop_map(Op::Rollback),
            2 => any::<usize>().prop_map(Op::Remove),
            1 => any::<usize>().prop_map(Op::Fail),
            2 => (1..=4usize).prop_map(Op::Prune),
        ]
    }

    fn pick(chain: &ReleaseChain, index: usize) -> Option<ReleaseId> {
        let all = chain.ordered();
        (!all.is_empty()).then(|| all[index % all.len()].id.clone())
    }

    fn new_release(chain: &mut ReleaseChain, next_id: &mut u32) -> ReleaseId {
        *next_id += 1;
        let new = id(*next_id);
        chain.apply(&chain.plan_upload(&new).unwrap());
        new
    }

    fn run(chain: &mut ReleaseChain, op: &Op, next_id: &mut u32) {
        match op {
            Op::Release => {
                let new = new_release(chain, next_id);
                chain.apply(&chain.plan_ready(&new).unwrap());
                assert_eq!(chain.tail(), Some(&new));
            }
            Op::FailedRelease(after_ready) => {
                let new = new_release(chain, next_id);
                if *after_ready {
                    chain.apply(&chain.plan_ready(&new).unwrap());
                }
                chain.apply(&chain.plan_failed(&new).unwrap());
                assert_eq!(chain.status_of(&new), Some(Failed));
            }
            Op::StuckUpload => {
                new_release(chain, next_id);
            }
            Op::DiscardIncomplete => {
                let stuck: Vec<_> = chain
                    .ordered()
                    .iter()
                    .filter(|meta| meta.status == Uploading)
                    .map(|meta| meta.id.clone())
                    .collect();
                for id in stuck {
                    chain.apply(&chain.plan_failed(&id).unwrap());
                }
            }
            Op::Switch(index) => {
                let Some(target) = pick(chain, *index) else {
                    return;
                };
                let status = chain.get(&target).unwrap().status;
                match chain.plan_switch(&target) {
                    Ok(change) => {
                        chain.apply(&change);
                        assert_eq!(chain.live(), Some(&target));
                    }
                    Err(error) => {
                        assert!(matches!(status, Uploading | Failed), "{error}");
                    }
                }
            }
            Op::Rollback(to) => {
                let to = to.and_then(|index| pick(chain, index));
                let before = chain.before_live().cloned();
                match chain.rollback_target(to.as_ref()) {
                    Ok(target) => {
                        if to.is_none() {
                            assert_eq!(Some(&target), before.as_ref());
                        }
                        chain.apply(&chain.plan_switch(&target).unwrap());
                    }
                    Err(ChainError::NoRollbackTarget) => assert!(before.is_none()),
                    Err(ChainError::NothingLive) => assert!(chain.live().is_none()),
                    Err(ChainError::IsLive(id)) => assert_eq!(chain.live(), Some(&id)),
                    Err(ChainError::NotUsable { status, .. }) => {
                        assert!(matches!(status, Uploading | Failed));
                    }
                    Err(error) => panic!("unexpected {error}"),
                }
            }
            Op::Remove(index) | Op::Fail(index) => {
                let Some(target) = pick(chain, *index) else {
                    return;
                };
                let plan = match op {
                    Op::Remove(_) => chain.plan_removal(&target),
                    _ => chain.plan_failed(&target),
                };
                if chain.live() == Some(&target) {
                    assert_eq!(plan, Err(ChainError::IsLive(target)));
                } else {
                    chain.apply(&plan.unwrap());
                }
            }
            Op::Prune(keep) => {
                let doomed = chain.prune_set(*keep);
                let before_live = chain.before_live().cloned();
                for id in &doomed {
                    assert_ne!(Some(id), chain.live());
                    assert_ne!(Some(id), before_live.as_ref());
                    assert_ne!(chain.get(id).unwrap().status, Uploading);
                    chain.apply(&chain.plan_removal(id).unwrap());
                }
                let kept = chain.ordered().iter().filter(|m| is_kept(m.status)).count();
                assert!(kept <= keep + 2, "{kept} kept with keep = {keep}");
                assert!(chain.ordered().iter().all(|m| m.status != Failed));
            }
        }
    }

    proptest! {
        #[test]
        fn every_sequence_keeps_the_invariants(ops in proptest::collection::vec(op(), 1..60)) {
            let mut chain = ReleaseChain::new(Vec::new(), None);
            let mut next_id = 0;
            for op in &ops {
                run(&mut chain, op, &mut next_id);
                prop_assert_eq!(chain.violations(), Vec::<String>::new(), "after {:?}", op);
                if let Some(live) = chain.live() {
                    let status = chain.get(live).map(|meta| meta.status);
                    prop_assert!(matches!(status, Some(Ready | Retired)), "live is {:?}", status);
                }
            }
        }
    }
}
