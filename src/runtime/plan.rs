//! Activation memory planning. Two planners over the same intermediates:
//! - [`plan_shared_objects`]: the exporter's `mem_obj_id` groups, each sized by its largest user;
//! - [`plan_arena`]: first/last use of every intermediate from the recorded dispatches, packed
//!   into one arena by offset (greedy, largest first, alignment respected).

use std::collections::BTreeMap;

use crate::format::ValueId;

/// One intermediate tensor: its size and the span of steps during which it must hold data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    pub value: ValueId,
    pub bytes: u64,
    /// First step (dispatch index) that touches it.
    pub first: usize,
    /// Last step that touches it (inclusive).
    pub last: usize,
}

impl Lifetime {
    pub fn overlaps_in_time(&self, other: &Lifetime) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

/// Computes lifetimes from the ordered list of tensors each step touches.
pub fn lifetimes(steps: &[Vec<ValueId>], bytes_of: impl Fn(ValueId) -> u64) -> Vec<Lifetime> {
    let mut spans: BTreeMap<ValueId, (usize, usize)> = BTreeMap::new();
    for (step, tensors) in steps.iter().enumerate() {
        for &t in tensors {
            spans
                .entry(t)
                .and_modify(|s| s.1 = step)
                .or_insert((step, step));
        }
    }
    spans
        .into_iter()
        .map(|(value, (first, last))| Lifetime {
            value,
            bytes: bytes_of(value),
            first,
            last,
        })
        .collect()
}

/// Where each intermediate lives in the arena, and the arena's size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArenaPlan {
    pub offsets: BTreeMap<ValueId, u64>,
    pub size: u64,
}

/// Greedy-by-size offset assignment: each tensor goes to the lowest aligned offset that does
/// not overlap, in memory, any already placed tensor whose lifetime overlaps its own.
pub fn plan_arena(lifetimes: &[Lifetime], align: u64) -> ArenaPlan {
    let align = align.max(1);
    let mut order: Vec<&Lifetime> = lifetimes.iter().collect();
    order.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then(a.first.cmp(&b.first))
            .then(a.value.cmp(&b.value))
    });
    let mut placed: Vec<(&Lifetime, u64)> = Vec::new();
    let mut plan = ArenaPlan::default();
    for lt in order {
        // Memory ranges of placed tensors that are alive at the same time, by offset.
        let mut busy: Vec<(u64, u64)> = placed
            .iter()
            .filter(|(p, _)| p.overlaps_in_time(lt))
            .map(|(p, off)| (*off, off + p.bytes))
            .collect();
        busy.sort_unstable();
        let mut offset = 0u64;
        for (start, end) in busy {
            if offset + lt.bytes <= start {
                break;
            }
            offset = offset.max(end.div_ceil(align) * align);
        }
        placed.push((lt, offset));
        plan.offsets.insert(lt.value, offset);
        plan.size = plan.size.max(offset + lt.bytes);
    }
    plan
}

/// The exporter's plan: tensors with the same `mem_obj_id` share one object sized by its
/// largest user; tensors without one get their own. Returns the objects' total bytes.
pub fn plan_shared_objects(tensors: &[(ValueId, Option<u32>, u64)]) -> u64 {
    let mut objects: BTreeMap<u32, u64> = BTreeMap::new();
    let mut own = 0u64;
    for &(_, mem_obj, bytes) in tensors {
        match mem_obj {
            Some(id) => {
                let e = objects.entry(id).or_insert(0);
                *e = (*e).max(bytes);
            }
            None => own += bytes,
        }
    }
    objects.values().sum::<u64>() + own
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replays a plan: no two tensors alive at the same step may share a byte.
    fn assert_no_live_overlap(lts: &[Lifetime], plan: &ArenaPlan, align: u64) {
        for (i, a) in lts.iter().enumerate() {
            let oa = plan.offsets[&a.value];
            assert_eq!(oa % align, 0, "value {} misaligned", a.value);
            assert!(oa + a.bytes <= plan.size);
            for b in &lts[i + 1..] {
                if !a.overlaps_in_time(b) {
                    continue;
                }
                let ob = plan.offsets[&b.value];
                let disjoint = oa + a.bytes <= ob || ob + b.bytes <= oa;
                assert!(
                    disjoint,
                    "values {} and {} are live together and overlap in memory",
                    a.value, b.value
                );
            }
        }
    }

    #[test]
    fn chain_reuses_memory() {
        // x0 -> x1 -> x2 -> x3: each tensor is live for two consecutive steps.
        let steps: Vec<Vec<ValueId>> = (0..3).map(|i| vec![i, i + 1]).collect();
        let lts = lifetimes(&steps, |_| 100);
        let plan = plan_arena(&lts, 16);
        assert_no_live_overlap(&lts, &plan, 16);
        assert_eq!(
            plan.size, 212,
            "two 100-byte slots, the second at offset 112"
        );
    }

    #[test]
    fn random_graphs_never_overlap_live_tensors() {
        let mut seed = 0x1234_5678u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let n_steps = 1 + (next() % 20) as usize;
            let n_values = 1 + (next() % 30) as usize;
            let steps: Vec<Vec<ValueId>> = (0..n_steps)
                .map(|_| {
                    (0..1 + next() % 4)
                        .map(|_| (next() % n_values as u64) as usize)
                        .collect()
                })
                .collect();
            let sizes: Vec<u64> = (0..n_values).map(|_| 1 + next() % 1000).collect();
            let lts = lifetimes(&steps, |v| sizes[v]);
            for align in [1, 4, 64, 256] {
                let plan = plan_arena(&lts, align);
                assert_no_live_overlap(&lts, &plan, align);
            }
        }
    }

    #[test]
    fn shared_objects_take_the_largest_user() {
        let t = [
            (0, Some(0), 100),
            (1, Some(0), 300),
            (2, Some(1), 50),
            (3, None, 10),
        ];
        assert_eq!(plan_shared_objects(&t), 300 + 50 + 10);
    }
}
