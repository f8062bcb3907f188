//! Concatenation without copies: a tensor that a `cat` copies whole into a contiguous slice
//! of its output may instead live in that slice, so its producer writes it there and the copy
//! is dropped. On a GPU every dispatch costs microseconds whatever it moves (3.5-4.5 µs on the
//! H200; 20-50 µs on lavapipe), and a U-Net's skip connections are exactly such copies.
//!
//! `cat` offers each copy it records ([`SlotOffer`]); [`resolve`] keeps the offers that are
//! safe once the whole graph is built, and the memory planner places each kept tensor inside
//! its concatenation (see `runtime::plan`). The same holds the other way round: a select,
//! slice or split along the outermost dim copies a contiguous window of its input (a ViT's
//! q, k and v out of one projection), and its output may be that window.

use std::collections::{BTreeMap, BTreeSet};

use crate::format::ValueId;

use super::builder::Dispatch;
use super::tensors::{TensorKind, TensorMeta};

/// A copy dispatch `[outer, inner]` that moves `bytes` bytes, verbatim, from the start of
/// `inner` to `offset` bytes into `outer` (a concatenation); or, with `window`, a copy
/// dispatch `[inner, outer]` that moves them from `offset` bytes into `outer` to the start
/// of `inner` (a select, slice or split along the outermost dim). Either way `inner` may
/// live at `outer + offset` and the copy go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotOffer {
    pub dispatch: usize,
    pub offset: u64,
    pub bytes: u64,
    pub window: bool,
}

/// A tensor (root) that lives inside another: `inner`'s memory is `outer`'s from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub inner: ValueId,
    pub outer: ValueId,
    pub offset: u64,
}

/// What [`resolve`] checks an offer against.
pub struct SlotContext<'a> {
    pub dispatches: &'a [Dispatch],
    pub roots: &'a [ValueId],
    pub metas: &'a [Option<TensorMeta>],
    /// Sizes each value was built with.
    pub sizes: &'a dyn Fn(ValueId) -> Option<Vec<usize>>,
    /// Roots the host writes (graph inputs) or reads (graph outputs).
    pub io_roots: &'a BTreeSet<ValueId>,
    /// Roots some dispatch writes in place (KV caches).
    pub written: &'a BTreeSet<ValueId>,
    /// Byte alignment of a tensor's offset in its buffer (bindings and texel views).
    pub alignment: u64,
}

/// The offers that hold, in offer order, and the copy dispatches they make redundant.
///
/// An offer holds when the copied root is an activation that only its producer writes, the
/// host neither writes nor reads, that is not already placed elsewhere and holds no other
/// tensor, and whose bytes are all the copy moves (at the sizes memory is planned for); the
/// output must be such an activation too, and the offset aligned for a binding. Each root goes in at most one slot and slots do not
/// nest: a second offer of the same tensor stays a copy.
pub fn resolve(offers: &[SlotOffer], cx: &SlotContext) -> (Vec<Slot>, BTreeSet<usize>) {
    let mut slots: Vec<Slot> = Vec::new();
    let mut dropped = BTreeSet::new();
    let mut inner_of: BTreeMap<ValueId, ValueId> = BTreeMap::new();
    let mut outers: BTreeSet<ValueId> = BTreeSet::new();
    for offer in offers {
        let Some(d) = cx.dispatches.get(offer.dispatch) else {
            continue;
        };
        let [outer, inner] = match (&d.tensors[..], offer.window) {
            (&[o, i], false) | (&[i, o], true) => [cx.roots[o], cx.roots[i]],
            _ => continue,
        };
        let fits = inner != outer
            && !inner_of.contains_key(&inner)
            && !outers.contains(&inner)
            && !inner_of.contains_key(&outer)
            && offer.offset.is_multiple_of(cx.alignment.max(1))
            && movable(inner, cx)
            && movable(outer, cx)
            && match (meta(cx, inner), meta(cx, outer)) {
                (Some(i), Some(o)) => {
                    i.elem == o.elem
                        && i.bytes() as u64 == offer.bytes
                        && offer.offset + offer.bytes <= o.bytes() as u64
                }
                _ => false,
            };
        if fits {
            inner_of.insert(inner, outer);
            outers.insert(outer);
            dropped.insert(offer.dispatch);
            slots.push(Slot {
                inner,
                outer,
                offset: offer.offset,
            });
        }
    }
    (slots, dropped)
}

fn meta<'a>(cx: &'a SlotContext, id: ValueId) -> Option<&'a TensorMeta> {
    cx.metas.get(id).and_then(Option::as_ref)
}

/// An activation root the planner may place anywhere: not graph I/O, not written in place,
/// built at the sizes its memory is planned for.
fn movable(root: ValueId, cx: &SlotContext) -> bool {
    meta(cx, root).is_some_and(|m| {
        matches!(m.kind, TensorKind::Activation { .. })
            && (cx.sizes)(root).as_deref() == Some(&m.bound_sizes[..])
    }) && !cx.io_roots.contains(&root)
        && !cx.written.contains(&root)
}
