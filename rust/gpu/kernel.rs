//! The WGSL programs: each kernel file is prefixed with the shared dtype conversions, the math
//! library and the per-buffer accessors it uses, so one source text per kernel is compiled (and
//! validated by naga in `cargo test`).

/// One WGSL program and what it needs from the shared parts.
pub struct Kernel {
    pub name: &'static str,
    body: &'static str,
    /// Input buffers that get `NAME_bits/_f/_i` accessors.
    inputs: &'static [&'static str],
    /// Output buffers that get `NAME_store_w/_a`.
    outputs: &'static [&'static str],
    /// Entry points.
    pub entries: &'static [&'static str],
    /// The storage bindings after the metadata (binding 0), as the WGSL declares them: the
    /// kernel's one explicit bind group layout lists them all, for every entry point.
    pub bindings: &'static [u32],
}

const COMMON: &str = include_str!("../../shaders/common.wgsl");
const MATH: &str = include_str!("../../shaders/math.wgsl");
const ACCESS: &str = include_str!("../../shaders/access.wgsl");
const STORE: &str = include_str!("../../shaders/store.wgsl");

pub const ELEMENTWISE: Kernel = Kernel {
    name: "elementwise",
    body: include_str!("../../shaders/elementwise.wgsl"),
    inputs: &["ta", "tb", "tc"],
    outputs: &["out"],
    entries: &["main_w", "main_a"],
    bindings: &[1, 2, 3, 4, 5],
};

pub const REDUCE: Kernel = Kernel {
    name: "reduce",
    body: include_str!("../../shaders/reduce.wgsl"),
    inputs: &["ta"],
    outputs: &["out", "out2"],
    entries: &["reduce_group", "reduce_thread", "reduce_partial", "reduce_combine"],
    bindings: &[1, 2, 4, 5, 6, 7],
};

pub const SOFTMAX: Kernel = Kernel {
    name: "softmax",
    body: include_str!("../../shaders/softmax.wgsl"),
    inputs: &["ta"],
    outputs: &["out"],
    entries: &["softmax", "scan", "scan_int", "scan_max"],
    bindings: &[1, 2, 4, 5],
};

pub const MATMUL: Kernel = Kernel {
    name: "matmul",
    body: include_str!("../../shaders/matmul.wgsl"),
    inputs: &["ta", "tb"],
    outputs: &[],
    entries: &["matmul", "matmul_naive"],
    bindings: &[1, 2, 4],
};

pub const OPTIM: Kernel = Kernel {
    name: "optim",
    body: include_str!("../../shaders/optim.wgsl"),
    inputs: &[],
    outputs: &[],
    entries: &["sgd", "adam", "rmsprop", "adagrad"],
    bindings: &[1, 2, 3, 4, 5],
};

pub const SORT: Kernel = Kernel {
    name: "sort",
    body: include_str!("../../shaders/sort.wgsl"),
    inputs: &["ta", "keys"],
    outputs: &["out"],
    entries: &["sort_init", "sort_local", "sort_merge", "sort_global", "sort_pick", "search"],
    bindings: &[1, 2, 4, 5, 6],
};

pub const RANDOM: Kernel = Kernel {
    name: "random",
    body: include_str!("../../shaders/random.wgsl"),
    inputs: &[],
    outputs: &["out"],
    entries: &["random"],
    bindings: &[4, 5],
};

pub const ALL: [&Kernel; 7] = [&ELEMENTWISE, &REDUCE, &SOFTMAX, &MATMUL, &OPTIM, &SORT, &RANDOM];

impl Kernel {
    /// The complete WGSL text of this kernel.
    pub fn source(&self) -> String {
        let mut s = String::with_capacity(32 * 1024);
        s.push_str(COMMON);
        s.push_str(MATH);
        for b in self.inputs {
            s.push_str(&ACCESS.replace("BUF", b));
        }
        for o in self.outputs {
            s.push_str(&STORE.replace("OUT", o));
        }
        s.push_str(self.body);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel parses and validates with naga, with or without a GPU on the machine.
    /// (unpack2x16float needs SHADER_FLOAT16_IN_FLOAT32, which wgpu grants on every WebGPU
    /// device.)
    #[test]
    fn shaders_validate() {
        for k in ALL {
            let src = k.source();
            let module = naga::front::wgsl::parse_str(&src).unwrap_or_else(|e| panic!("{}: {}", k.name, e.emit_to_string(&src)));
            let mut v = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::SHADER_FLOAT16_IN_FLOAT32);
            v.validate(&module).unwrap_or_else(|e| panic!("{}: {}", k.name, e.emit_to_string(&src)));
            for e in k.entries {
                assert!(module.entry_points.iter().any(|ep| ep.name == *e), "{} has no entry point {e}", k.name);
            }
            // the explicit layout (binding 0 + `bindings`) must match the declarations exactly
            let mut declared: Vec<u32> = module.global_variables.iter().filter_map(|(_, g)| g.binding.as_ref().map(|b| b.binding)).collect();
            declared.sort();
            let mut listed: Vec<u32> = std::iter::once(0).chain(k.bindings.iter().copied()).collect();
            listed.sort();
            assert_eq!(declared, listed, "{}: bindings", k.name);
        }
    }
}
