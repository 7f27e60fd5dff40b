//! Running one operation across an environment's hosts: all of them, `parallel` at a time
//! (`across`), or as a rollout (`rollout`): the canary hosts first, fully, then the rest in
//! waves; the first failure halts it, so hosts not yet reached stay as they were.

use std::thread;

use hoist_core::spec::Rollout;

use crate::error::Result;
use crate::ports::HostHandle;

/// What happened on each host, in host order; `None` for a host a halted rollout never reached.
#[derive(Debug)]
pub struct FleetOutcome<T> {
    pub results: Vec<Option<Result<T>>>,
}

impl<T> FleetOutcome<T> {
    /// The first failure, with the index of its host.
    pub fn first_failure(&self) -> Option<(usize, &crate::error::Error)> {
        self.results.iter().enumerate().find_map(|(i, r)| match r {
            Some(Err(error)) => Some((i, error)),
            _ => None,
        })
    }

    /// `Ok` when every host that was reached succeeded, else the first host's error.
    pub fn ok(&self) -> Result<()> {
        match self.first_failure() {
            Some((_, error)) => Err(error.clone()),
            None => Ok(()),
        }
    }

    pub fn succeeded(&self) -> usize {
        self.results
            .iter()
            .filter(|r| matches!(r, Some(Ok(_))))
            .count()
    }

    pub fn not_reached(&self) -> usize {
        self.results.iter().filter(|r| r.is_none()).count()
    }
}

/// Runs `work` on every host, at most `parallel` at once, and waits for all of them.
pub fn across<T: Send>(
    hosts: &[HostHandle],
    parallel: usize,
    work: impl Fn(usize, &HostHandle) -> Result<T> + Sync,
) -> FleetOutcome<T> {
    let mut results: Vec<Option<Result<T>>> = (0..hosts.len()).map(|_| None).collect();
    let indices: Vec<usize> = (0..hosts.len()).collect();
    for wave in indices.chunks(parallel.max(1)) {
        run_wave(hosts, wave, &work, &mut results);
    }
    FleetOutcome { results }
}

/// Runs `work` on the canary hosts, then on the rest `parallel` at a time, stopping after
/// the first wave in which any host failed.
pub fn rollout<T: Send>(
    hosts: &[HostHandle],
    rollout: Rollout,
    work: impl Fn(usize, &HostHandle) -> Result<T> + Sync,
) -> FleetOutcome<T> {
    let mut results: Vec<Option<Result<T>>> = (0..hosts.len()).map(|_| None).collect();
    for wave in waves(hosts.len(), rollout) {
        run_wave(hosts, &wave, &work, &mut results);
        if wave.iter().any(|&i| matches!(results[i], Some(Err(_)))) {
            break;
        }
    }
    FleetOutcome { results }
}

/// The waves a rollout goes in: `[0..canary]`, then chunks of `parallel`.
pub fn waves(count: usize, rollout: Rollout) -> Vec<Vec<usize>> {
    let canary = (rollout.canary as usize).min(count);
    let parallel = (rollout.parallel as usize).max(1);
    let mut waves = Vec::new();
    if canary > 0 {
        waves.extend(
            (0..canary)
                .collect::<Vec<_>>()
                .chunks(parallel)
                .map(<[usize]>::to_vec),
        );
    }
    let rest: Vec<usize> = (canary..count).collect();
    waves.extend(rest.chunks(parallel).map(<[usize]>::to_vec));
    waves
}

/// `work` on every item at once, results in item order: for read-only commands (`status`,
/// `check`, `releases list`) that connect to every host.
pub fn map_parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.len() <= 1 {
        return items.iter().map(&work).collect();
    }
    let work = &work;
    thread::scope(|scope| {
        let running: Vec<_> = items
            .iter()
            .map(|item| scope.spawn(move || work(item)))
            .collect();
        running
            .into_iter()
            .map(|handle| handle.join())
            .collect::<std::result::Result<Vec<R>, _>>()
    })
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Closes every host's connection at once: each waits for its own ssh master to go, so
/// one after the other would add those waits up.
pub fn close_all(hosts: Vec<HostHandle>) {
    if hosts.len() <= 1 {
        return;
    }
    thread::scope(|scope| {
        for handle in hosts {
            scope.spawn(move || drop(handle));
        }
    });
}

fn run_wave<T: Send>(
    hosts: &[HostHandle],
    wave: &[usize],
    work: &(impl Fn(usize, &HostHandle) -> Result<T> + Sync),
    results: &mut [Option<Result<T>>],
) {
    if let [only] = wave {
        results[*only] = Some(work(*only, &hosts[*only]));
        return;
    }
    let finished: Vec<(usize, Result<T>)> = thread::scope(|scope| {
        let running: Vec<_> = wave
            .iter()
            .map(|&i| (i, scope.spawn(move || work(i, &hosts[i]))))
            .collect();
        running
            .into_iter()
            .map(|(i, handle)| {
                let result = handle.join().unwrap_or_else(|_| {
                    Err(crate::error::Error::internal(
                        "a host's worker thread panicked",
                    ))
                });
                (i, result)
            })
            .collect()
    });
    for (i, result) in finished {
        results[i] = Some(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waves_of(count: usize, parallel: u32, canary: u32) -> Vec<Vec<usize>> {
        waves(count, Rollout { parallel, canary })
    }

    #[test]
    fn canary_goes_first_then_waves_of_parallel() {
        assert_eq!(waves_of(5, 2, 1), vec![vec![0], vec![1, 2], vec![3, 4]]);
        assert_eq!(waves_of(4, 8, 0), vec![vec![0, 1, 2, 3]]);
        assert_eq!(waves_of(3, 1, 0), vec![vec![0], vec![1], vec![2]]);
        assert_eq!(waves_of(2, 4, 5), vec![vec![0, 1]]);
        assert!(waves_of(0, 4, 1).is_empty());
    }
}
