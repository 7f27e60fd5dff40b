use proptest::prelude::*;

use super::*;
use ReleaseStatus::{Failed, Ready, Retired, Uploading};

fn id(n: u32) -> ReleaseId {
    format!("20261121T{n:06}Z-0000abcd").parse().unwrap()
}

fn meta(n: u32, status: ReleaseStatus, previous: Option<u32>, next: Option<u32>) -> ReleaseMeta {
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
