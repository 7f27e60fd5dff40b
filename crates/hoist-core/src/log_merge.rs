//! One timeline out of several logs (the releases of a host, the hosts of a fleet): a
//! k-way merge by time that never reorders the lines of one log — a log's own order is
//! the truth, even where its clock went backwards — and takes the earlier source first
//! when two lines have the same time.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use jiff::Timestamp;

/// Merges `sources` (each in its own order) into one list by `time`.
pub fn merge_by_time<T>(sources: Vec<Vec<T>>, time: impl Fn(&T) -> Timestamp) -> Vec<T> {
    let total = sources.iter().map(Vec::len).sum();
    let mut queues: Vec<VecDeque<T>> = sources.into_iter().map(VecDeque::from).collect();
    // Only each source's head is in the heap, so a source's lines leave in its own order.
    let mut heads: BinaryHeap<Reverse<(Timestamp, usize)>> = queues
        .iter()
        .enumerate()
        .filter_map(|(index, queue)| queue.front().map(|head| Reverse((time(head), index))))
        .collect();
    let mut merged = Vec::with_capacity(total);
    while let Some(Reverse((_, index))) = heads.pop() {
        let queue = &mut queues[index];
        if let Some(line) = queue.pop_front() {
            merged.push(line);
        }
        if let Some(next) = queue.front() {
            heads.push(Reverse((time(next), index)));
        }
    }
    merged
}

/// The last `count` items (all when `count` is `None`).
pub fn keep_last<T>(mut lines: Vec<T>, count: Option<usize>) -> Vec<T> {
    if let Some(count) = count {
        let excess = lines.len().saturating_sub(count);
        lines.drain(..excess);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (source, position in source, time in seconds)
    type Line = (usize, usize, i64);

    fn time(line: &Line) -> Timestamp {
        Timestamp::from_second(line.2).unwrap()
    }

    fn sources_of(times: Vec<Vec<i64>>) -> Vec<Vec<Line>> {
        times
            .into_iter()
            .enumerate()
            .map(|(source, times)| {
                times
                    .into_iter()
                    .enumerate()
                    .map(|(position, seconds)| (source, position, seconds))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn interleaves_by_time_and_breaks_ties_by_source() {
        let merged = merge_by_time(sources_of(vec![vec![1, 3, 5], vec![2, 3, 4]]), time);
        let order: Vec<(usize, i64)> = merged.iter().map(|l| (l.0, l.2)).collect();
        assert_eq!(order, vec![(0, 1), (1, 2), (0, 3), (1, 3), (1, 4), (0, 5)]);
    }

    #[test]
    fn a_source_whose_clock_went_back_keeps_its_order() {
        let merged = merge_by_time(sources_of(vec![vec![5, 1], vec![3]]), time);
        let order: Vec<(usize, usize)> = merged.iter().map(|l| (l.0, l.1)).collect();
        assert_eq!(order, vec![(1, 0), (0, 0), (0, 1)]);
    }

    #[test]
    fn keeps_the_last_lines() {
        assert_eq!(keep_last(vec![1, 2, 3, 4], Some(2)), vec![3, 4]);
        assert_eq!(keep_last(vec![1, 2], Some(5)), vec![1, 2]);
        assert_eq!(keep_last(vec![1, 2], None), vec![1, 2]);
        assert_eq!(keep_last(vec![1, 2], Some(0)), Vec::<i32>::new());
    }

    fn any_sources() -> impl Strategy<Value = Vec<Vec<i64>>> {
        proptest::collection::vec(proptest::collection::vec(0_i64..50, 0..30), 0..6)
    }

    proptest! {
        #[test]
        fn every_line_comes_out_once(times in any_sources()) {
            let sources = sources_of(times);
            let mut expected: Vec<Line> = sources.iter().flatten().copied().collect();
            let mut merged = merge_by_time(sources, time);
            expected.sort_unstable();
            merged.sort_unstable();
            prop_assert_eq!(merged, expected);
        }

        #[test]
        fn each_source_keeps_its_own_order(times in any_sources()) {
            let merged = merge_by_time(sources_of(times.clone()), time);
            for (source, source_times) in times.iter().enumerate() {
                let positions: Vec<usize> =
                    merged.iter().filter(|l| l.0 == source).map(|l| l.1).collect();
                let in_order: Vec<usize> = (0..source_times.len()).collect();
                prop_assert_eq!(positions, in_order);
            }
        }

        #[test]
        fn sorted_sources_merge_sorted_with_ties_by_source(mut times in any_sources()) {
            for source in &mut times {
                source.sort_unstable();
            }
            let merged = merge_by_time(sources_of(times), time);
            for pair in merged.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                prop_assert!(
                    a.2 < b.2 || (a.2 == b.2 && (a.0 < b.0 || (a.0 == b.0 && a.1 < b.1))),
                    "{a:?} before {b:?}"
                );
            }
        }

        #[test]
        fn the_last_lines_are_the_end_of_the_timeline(times in any_sources(), count in 0_usize..40) {
            let merged = merge_by_time(sources_of(times), time);
            let tail = keep_last(merged.clone(), Some(count));
            prop_assert_eq!(tail.len(), count.min(merged.len()));
            prop_assert_eq!(&merged[merged.len() - tail.len()..], &tail[..]);
        }
    }
}
