//! Running every op's builder over a graph: the dispatches, memory roots and output sizes that
//! the runtime plans, packs and records from.

use std::collections::BTreeSet;

use crate::error::{Error, ErrorKind, Result};
use crate::format::{Graph, ValueId};
use crate::gpu::Caps;

use super::slots::Slot;
use super::{Dispatch, OpBuilder, RuntimeInput, TensorMeta};

/// What running every op's builder produced.
pub struct BuiltGraph {
    pub dispatches: Vec<Dispatch>,
    /// Per value (the graph's, then those the builder added), the value whose memory it uses.
    pub roots: Vec<ValueId>,
    /// Per value, what the planner needs of a tensor (`None` for other values).
    pub metas: Vec<Option<TensorMeta>>,
    /// Per graph output, the (root) value holding it contiguously: the output itself, or its
    /// copy when the op that produced it wrote another layout.
    pub outputs: Vec<ValueId>,
    /// Sizes of each graph output.
    pub output_sizes: Vec<Vec<usize>>,
    /// Roots written in place by a dispatch (never shared with another constant).
    pub written: BTreeSet<ValueId>,
    /// Roots that live inside a concatenation of them (the copy into it was dropped).
    pub slots: Vec<Slot>,
    /// Lifetimes differ from the exporter's plan (slots, pools taken by the next op): only
    /// the lifetime arena holds this build.
    pub arena_only: bool,
    /// The chain ops whose dispatch took over a neighbour's (a pool, an upsampling): the
    /// memory plan holds for these fusions only.
    pub fusions: Vec<usize>,
}

impl BuiltGraph {
    /// The meta of tensor `id`.
    pub fn meta(&self, id: ValueId) -> Option<&TensorMeta> {
        self.metas.get(id).and_then(Option::as_ref)
    }
}

/// Values whose elements some op reads on the host while the graph is built (see
/// [`OpDef::reads_host_values`](super::OpDef::reads_host_values)).
pub fn host_read_values(graph: &Graph) -> BTreeSet<ValueId> {
    graph
        .chain
        .iter()
        .filter(|call| crate::ops::lookup(&call.name).is_some_and(|d| d.reads_host_values))
        .filter_map(|call| call.args.first().copied())
        .collect()
}

/// Runs every op's builder in chain order. `inputs`: the run-time sizes or values of the
/// graph's inputs for a build below the serialized bounds (`None`: the build at the bounds,
/// whose outputs must equal the serialized dims). `alias_activations`: view-like ops may share
/// their input's memory (see [`OpBuilder::set_alias_activations`]).
pub fn build(
    graph: &Graph,
    caps: &Caps,
    inputs: Option<&[(ValueId, RuntimeInput)]>,
    alias_activations: bool,
    static_sizes: bool,
) -> Result<BuiltGraph> {
    let mut builder = match inputs {
        Some(inputs) => OpBuilder::resized(graph, caps, inputs),
        None => OpBuilder::new(graph, caps),
    };
    builder.set_alias_activations(alias_activations);
    builder.set_static_sizes(static_sizes);
    for (index, call) in graph.chain.iter().enumerate() {
        builder.begin_op(index, &call.name);
        let def = crate::ops::lookup(&call.name).ok_or_else(|| {
            Error::new(
                ErrorKind::OperatorMissing,
                format!(
                    "op #{index}: operator '{}' is not supported by etvk",
                    call.name
                ),
            )
        })?;
        (def.build)(&mut builder, &call.args)?;
    }
    let output_sizes = graph
        .output_ids
        .iter()
        .map(|&id| {
            builder
                .sizes_of(id)
                .map(<[usize]>::to_vec)
                .unwrap_or_default()
        })
        .collect();
    let f = builder.finish()?;
    Ok(BuiltGraph {
        dispatches: f.dispatches,
        roots: f.roots,
        metas: f.metas,
        outputs: f.outputs,
        output_sizes,
        written: f.written,
        slots: f.slots,
        arena_only: f.arena_only,
        fusions: f.fusions,
    })
}
