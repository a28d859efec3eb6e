//! The op set, grouped by kernel shape. Kernels match on these enums; autograd records them.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Abs,
    Sign,
    // Float math (integer inputs are promoted before these run).
    Exp,
    Exp2,
    Expm1,
    Log,
    Log2,
    Log10,
    Log1p,
    Sqrt,
    Rsqrt,
    Reciprocal,
    Square,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Sigmoid,
    Erf,
    Erfc,
    Erfinv,
    Floor,
    Ceil,
    Round,
    Trunc,
    Frac,
    Relu,
    LogicalNot,
    BitNot,
}

impl UnaryOp {
    /// Ops that only exist on floating types: integer/bool inputs promote to the default dtype.
    pub fn is_float_only(self) -> bool {
        use UnaryOp::*;
        !matches!(self, Neg | Abs | Sign | Floor | Ceil | Round | Trunc | Relu | LogicalNot | BitNot | Square)
    }
    pub fn name(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Neg => "neg",
            Abs => "abs",
            Sign => "sign",
            Exp => "exp",
            Exp2 => "exp2",
            Expm1 => "expm1",
            Log => "log",
            Log2 => "log2",
            Log10 => "log10",
            Log1p => "log1p",
            Sqrt => "sqrt",
            Rsqrt => "rsqrt",
            Reciprocal => "reciprocal",
            Square => "square",
            Sin => "sin",
            Cos => "cos",
            Tan => "tan",
            Asin => "asin",
            Acos => "acos",
            Atan => "atan",
            Sinh => "sinh",
            Cosh => "cosh",
            Tanh => "tanh",
            Asinh => "asinh",
            Acosh => "acosh",
            Atanh => "atanh",
            Sigmoid => "sigmoid",
            Erf => "erf",
            Erfc => "erfc",
            Erfinv => "erfinv",
            Floor => "floor",
            Ceil => "ceil",
            Round => "round",
            Trunc => "trunc",
            Frac => "frac",
            Relu => "relu",
            LogicalNot => "logical_not",
            BitNot => "bitwise_not",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    /// True division; integer inputs are promoted to float first.
    Div,
    FloorDiv,
    TruncDiv,
    /// Python-style remainder (sign of the divisor).
    Remainder,
    /// C-style remainder (sign of the dividend).
    Fmod,
    Pow,
    Maximum,
    Minimum,
    Atan2,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
}

impl BinaryOp {
    pub fn name(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "add",
            Sub => "sub",
            Mul => "mul",
            Div => "div",
            FloorDiv => "floor_divide",
            TruncDiv => "div_trunc",
            Remainder => "remainder",
            Fmod => "fmod",
            Pow => "pow",
            Maximum => "maximum",
            Minimum => "minimum",
            Atan2 => "atan2",
            BitAnd => "bitwise_and",
            BitOr => "bitwise_or",
            BitXor => "bitwise_xor",
            Shl => "bitwise_left_shift",
            Shr => "bitwise_right_shift",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LogicalAnd,
    LogicalOr,
    LogicalXor,
}

/// Reductions over a set of dims (rust/cpu/reduce.rs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReduceOp {
    Sum,
    NanSum,
    Prod,
    Mean,
    NanMean,
    /// amax / amin: values only, NaN propagates.
    Max,
    Min,
    /// Position of the first max / min (or first NaN); with two outputs also the value.
    ArgMax,
    ArgMin,
    All,
    Any,
    CountNonzero,
    LogSumExp,
    /// Vector p-norm, p in [-inf, inf].
    Norm(f64),
    /// Variance (or standard deviation) with `correction` subtracted from the count.
    Var { correction: f64, std: bool },
}

/// Cumulative ops along one dim (rust/cpu/scan.rs). Max/Min also give indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScanOp {
    Sum,
    Prod,
    Max,
    Min,
}

/// Order-based ops on the rows along one dim (rust/cpu/sort.rs); each gives values and
/// int64 indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelectOp {
    Sort { descending: bool, stable: bool },
    TopK { k: usize, largest: bool, sorted: bool },
    /// The k-th smallest, 0-based.
    Kth { k: usize },
    /// The lower median; NaN if the row has one, unless `skip_nan`.
    Median { skip_nan: bool },
    Mode,
}

impl SelectOp {
    /// Outputs per row of length n.
    pub fn out_len(self, n: usize) -> usize {
        match self {
            SelectOp::Sort { .. } => n,
            SelectOp::TopK { k, .. } => k,
            _ => 1,
        }
    }
}

/// How `linalg.qr` returns its factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QrMode {
    /// Q is m x k, R is k x n (k = min(m, n)).
    Reduced,
    /// Q is m x m, R is m x n.
    Complete,
    /// Only R (k x n).
    R,
}

/// The LAPACK driver `linalg.lstsq` emulates; it decides which of the optional results exist
/// and how the rank is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LstsqDriver {
    /// QR, full rank assumed.
    Gels,
    /// Complete orthogonal factorization from QR with column pivoting (torch's CPU default).
    Gelsy,
    /// SVD (divide and conquer in LAPACK).
    Gelsd,
    /// SVD.
    Gelss,
}

/// Dense linear algebra over batches of matrices. Each op names its inputs and outputs; every
/// operand is (batch dims, then 0, 1 or 2 matrix dims). Real tolerances are resolved by the
/// caller, so kernels never see a "default".
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LinalgOp {
    /// [A] -> [A^-1]
    Inv,
    /// [A] -> [det]
    Det,
    /// [A] -> [sign, log|det|]
    Slogdet,
    /// [A, B] -> [X] with AX = B (left) or XA = B.
    Solve { left: bool },
    /// [A] -> [L] (or U = L^T when `upper`, read from A's upper triangle).
    Cholesky { upper: bool },
    /// [A] -> [Q, R], or [R] for QrMode::R.
    Qr { mode: QrMode },
    /// [A] -> [U, S, Vh], or [S] without vectors.
    Svd { full_matrices: bool, compute_uv: bool },
    /// [A] -> [eigenvalues, eigenvectors], or [eigenvalues]; reads one triangle.
    Eigh { upper: bool, vectors: bool },
    /// [A, B] -> [X, residuals, rank (int64), singular values].
    Lstsq { driver: LstsqDriver, rcond: f64 },
    /// [A] -> [A^+]; singular values (|eigenvalues| when hermitian) at or below
    /// max(atol, rtol * largest) are dropped.
    Pinv { hermitian: bool, atol: f64, rtol: f64 },
    /// [A] -> [rank (int64)] with pinv's tolerance rule.
    MatrixRank { hermitian: bool, atol: f64, rtol: f64 },
    /// [A] -> [A^n]; negative n inverts first. `round_to` rounds every product to a narrower
    /// float type, as torch's half-precision matmuls do.
    MatrixPower { n: i64, round_to: Option<crate::dtype::DType> },
}
