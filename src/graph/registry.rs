//! The op registry: each supported operator's serialized name, its builder, and the facts the
//! runtime needs about it without knowing its name.

use crate::error::Result;
use crate::format::ValueId;

use super::OpBuilder;

/// Builds one operator call: reads its arguments through the [`OpBuilder`], checks them,
/// declares its outputs' sizes and records shader dispatches.
pub type BuildFn = fn(&mut OpBuilder, &[ValueId]) -> Result<()>;

/// One registered operator.
#[derive(Clone, Copy)]
pub struct OpDef {
    /// The name as serialized in `OperatorCall.name`.
    pub name: &'static str,
    pub build: BuildFn,
    /// The op reads the *elements* of its first argument on the host while the graph is built
    /// (`et_vk.select_as_symint`): that tensor's values decide sizes, so a change of them
    /// re-records the graph, and the build at init (before any input exists) reads zeros.
    pub reads_host_values: bool,
}

impl OpDef {
    pub const fn new(name: &'static str, build: BuildFn) -> Self {
        OpDef {
            name,
            build,
            reads_host_values: false,
        }
    }

    /// Marks the op as reading its first argument's elements on the host.
    pub const fn reads_host_values(mut self) -> Self {
        self.reads_host_values = true;
        self
    }
}

/// Finds `name` in `table`, accepting names with or without the `aten.` namespace and with
/// or without the `.default` overload suffix.
pub fn find(table: &[&[OpDef]], name: &str) -> Option<OpDef> {
    let find = |n: &str| {
        table
            .iter()
            .flat_map(|f| f.iter())
            .find(|d| d.name == n)
            .copied()
    };
    find(name)
        .or_else(|| find(&format!("aten.{name}")))
        .or_else(|| name.strip_suffix(".default").and_then(find))
        .or_else(|| {
            name.strip_suffix(".default")
                .and_then(|n| find(&format!("aten.{n}")))
        })
}
