//! Element types, torch's type-promotion rules and the scalar type that Python numbers become.

use half::{bf16, f16};
use std::fmt::Debug;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum DType {
    Bool,
    U8,
    I8,
    I16,
    I32,
    I64,
    F16,
    BF16,
    F32,
    F64,
}

/// The three categories that decide whether a scalar may promote a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Bool,
    Int,
    Float,
}

pub const ALL_DTYPES: [DType; 10] = [
    DType::Bool,
    DType::U8,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::F16,
    DType::BF16,
    DType::F32,
    DType::F64,
];

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 => 8,
        }
    }

    /// torch's public name (`rgrad.float32`).
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// The C++ scalar type name some of torch's messages print (`float != double`).
    pub fn cpp_name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "unsigned char",
            DType::I8 => "signed char",
            DType::I16 => "short int",
            DType::I32 => "int",
            DType::I64 => "long int",
            DType::F16 => "c10::Half",
            DType::BF16 => "c10::BFloat16",
            DType::F32 => "float",
            DType::F64 => "double",
        }
    }

    /// The C++ type name of c10's checked conversions (`value cannot be converted to type
    /// uint8_t without overflow`).
    pub fn c10_name(self) -> &'static str {
        match self {
            DType::U8 => "uint8_t",
            DType::I8 => "int8_t",
            DType::I16 => "int16_t",
            DType::I64 => "int64_t",
            other => other.cpp_name(),
        }
    }

    /// The values an integer dtype holds (None for bool and floats).
    pub fn int_range(self) -> Option<(i64, i64)> {
        match self {
            DType::U8 => Some((0, u8::MAX as i64)),
            DType::I8 => Some((i8::MIN as i64, i8::MAX as i64)),
            DType::I16 => Some((i16::MIN as i64, i16::MAX as i64)),
            DType::I32 => Some((i32::MIN as i64, i32::MAX as i64)),
            DType::I64 => Some((i64::MIN, i64::MAX)),
            _ => None,
        }
    }

    /// The scalar-type name that torch's kernel errors print (`not implemented for 'Long'`).
    pub fn torch_kernel_name(self) -> &'static str {
        match self {
            DType::Bool => "Bool",
            DType::U8 => "Byte",
            DType::I8 => "Char",
            DType::I16 => "Short",
            DType::I32 => "Int",
            DType::I64 => "Long",
            DType::F16 => "Half",
            DType::BF16 => "BFloat16",
            DType::F32 => "Float",
            DType::F64 => "Double",
        }
    }

    pub fn from_name(name: &str) -> Option<DType> {
        Some(match name {
            "bool" => DType::Bool,
            "uint8" => DType::U8,
            "int8" => DType::I8,
            "int16" | "short" => DType::I16,
            "int32" | "int" => DType::I32,
            "int64" | "long" => DType::I64,
            "float16" | "half" => DType::F16,
            "bfloat16" => DType::BF16,
            "float32" | "float" => DType::F32,
            "float64" | "double" => DType::F64,
            _ => return None,
        })
    }

    pub fn category(self) -> Category {
        match self {
            DType::Bool => Category::Bool,
            DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64 => Category::Int,
            _ => Category::Float,
        }
    }

    pub fn is_float(self) -> bool {
        self.category() == Category::Float
    }
    pub fn is_int(self) -> bool {
        self.category() == Category::Int
    }
    pub fn is_signed(self) -> bool {
        !matches!(self, DType::Bool | DType::U8)
    }

    /// torch.promote_types.
    pub fn promote(a: DType, b: DType) -> DType {
        use DType::*;
        if a == b {
            return a;
        }
        match (a.category(), b.category()) {
            (Category::Bool, _) => b,
            (_, Category::Bool) => a,
            (Category::Int, Category::Float) => b,
            (Category::Float, Category::Int) => a,
            (Category::Int, Category::Int) => {
                // uint8 with a signed type needs a signed type that holds 0..=255.
                let (u, s) = match (a, b) {
                    (U8, s) | (s, U8) => (true, s),
                    _ => (false, a),
                };
                if u {
                    return if s == I8 { I16 } else { s };
                }
                if a.size() >= b.size() {
                    a
                } else {
                    b
                }
            }
            (Category::Float, Category::Float) => match (a, b) {
                (F16, BF16) | (BF16, F16) => F32,
                _ => {
                    if a.size() >= b.size() {
                        a
                    } else {
                        b
                    }
                }
            },
        }
    }

    /// torch.can_cast: casting may not go down a category (float -> int, int -> bool).
    pub fn can_cast(from: DType, to: DType) -> bool {
        from.category() <= to.category()
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name())
    }
}

/// A Python number as torch sees it: a "wrapped number" that promotes a tensor only across
/// categories.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl Scalar {
    pub fn category(self) -> Category {
        match self {
            Scalar::Bool(_) => Category::Bool,
            Scalar::Int(_) => Category::Int,
            Scalar::Float(_) => Category::Float,
        }
    }
    /// The dtype a Python number gets as a tensor of its own.
    pub fn natural_dtype(self, default_float: DType) -> DType {
        match self {
            Scalar::Bool(_) => DType::Bool,
            Scalar::Int(_) => DType::I64,
            Scalar::Float(_) => default_float,
        }
    }
    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as i64 as f64,
            Scalar::Int(i) => i as f64,
            Scalar::Float(f) => f,
        }
    }
    pub fn to_i64(self) -> i64 {
        match self {
            Scalar::Bool(b) => b as i64,
            Scalar::Int(i) => i,
            Scalar::Float(f) => f as i64,
        }
    }
    pub fn to_bool(self) -> bool {
        match self {
            Scalar::Bool(b) => b,
            Scalar::Int(i) => i != 0,
            Scalar::Float(f) => f != 0.0,
        }
    }
    pub fn to_elem<T: Elem>(self) -> T {
        match self {
            Scalar::Bool(b) => T::from_bool(b),
            Scalar::Int(i) => T::from_i64(i),
            Scalar::Float(f) => T::from_f64(f),
        }
    }
}

/// Operand priority in torch's result_type: dimensioned tensors beat zero-dim tensors, which
/// beat Python numbers, unless a lower level brings a higher category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Wrapped,
    ZeroDim,
    Dim,
}

/// torch's result_type over operands given as (dtype, priority).
pub fn result_type(operands: &[(DType, Priority)], default_float: DType) -> DType {
    let mut levels: [Option<DType>; 3] = [None, None, None];
    for &(dt, pr) in operands {
        // A float Python number counts as the default dtype, not as float64.
        let dt = if pr == Priority::Wrapped && dt.is_float() { default_float } else { dt };
        let slot = &mut levels[pr as usize];
        *slot = Some(match *slot {
            None => dt,
            Some(cur) => DType::promote(cur, dt),
        });
    }
    let combine = |higher: Option<DType>, lower: Option<DType>| -> Option<DType> {
        match (higher, lower) {
            (None, l) => l,
            (Some(h), None) => Some(h),
            (Some(h), Some(l)) => {
                if h.is_float() {
                    Some(h)
                } else if h == DType::Bool || l.is_float() {
                    Some(DType::promote(h, l))
                } else {
                    Some(h)
                }
            }
        }
    };
    let low = combine(levels[Priority::ZeroDim as usize], levels[Priority::Wrapped as usize]);
    combine(levels[Priority::Dim as usize], low).unwrap_or(default_float)
}

/// The element types the CPU kernels are generic over. Conversions follow C++ casts as torch
/// does (wrap-around for integers, truncation toward zero from floats).
pub trait Elem: Copy + Send + Sync + 'static + PartialOrd + Debug + Default {
    const DTYPE: DType;
    fn to_f64(self) -> f64;
    fn to_i64(self) -> i64;
    fn to_bool(self) -> bool;
    fn from_f64(v: f64) -> Self;
    fn from_i64(v: i64) -> Self;
    fn from_bool(v: bool) -> Self;
    #[inline]
    fn cast<S: Elem>(s: S) -> Self {
        match S::DTYPE.category() {
            Category::Float => Self::from_f64(s.to_f64()),
            Category::Int => Self::from_i64(s.to_i64()),
            Category::Bool => Self::from_bool(s.to_bool()),
        }
    }
}

macro_rules! int_elem {
    ($t:ty, $dt:expr) => {
        impl Elem for $t {
            const DTYPE: DType = $dt;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn to_bool(self) -> bool {
                self != 0
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as i64 as $t
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn from_bool(v: bool) -> Self {
                v as $t
            }
        }
    };
}
int_elem!(u8, DType::U8);
int_elem!(i8, DType::I8);
int_elem!(i16, DType::I16);
int_elem!(i32, DType::I32);
int_elem!(i64, DType::I64);

impl Elem for bool {
    const DTYPE: DType = DType::Bool;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as i64 as f64
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn to_bool(self) -> bool {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v != 0
    }
    #[inline(always)]
    fn from_bool(v: bool) -> Self {
        v
    }
}

macro_rules! float_elem {
    ($t:ty, $dt:expr, $to:expr, $from:expr) => {
        impl Elem for $t {
            const DTYPE: DType = $dt;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                $to(self)
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                $to(self) as i64
            }
            #[inline(always)]
            fn to_bool(self) -> bool {
                $to(self) != 0.0
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                $from(v)
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                $from(v as f64)
            }
            #[inline(always)]
            fn from_bool(v: bool) -> Self {
                $from(v as i64 as f64)
            }
        }
    };
}
float_elem!(f32, DType::F32, |x: f32| x as f64, |v: f64| v as f32);
float_elem!(f64, DType::F64, |x: f64| x, |v: f64| v);
float_elem!(f16, DType::F16, |x: f16| x.to_f64(), f16::from_f64);
// Through f32, as torch's BFloat16(float): half's `bf16::from_f64` drops the low word of the
// f64 from its sticky bit and rounds some f32 values (e.g. 0x3efc8006) down to even.
float_elem!(bf16, DType::BF16, |x: bf16| x.to_f64(), |v: f64| bf16::from_f32(v as f32));

/// Runs `$body` with `$T` bound to the Rust type of `$dtype`.
#[macro_export]
macro_rules! with_dtype {
    ($dtype:expr, $T:ident, $body:block) => {{
        use $crate::dtype::DType as __D;
        match $dtype {
            __D::Bool => {
                type $T = bool;
                $body
            }
            __D::U8 => {
                type $T = u8;
                $body
            }
            __D::I8 => {
                type $T = i8;
                $body
            }
            __D::I16 => {
                type $T = i16;
                $body
            }
            __D::I32 => {
                type $T = i32;
                $body
            }
            __D::I64 => {
                type $T = i64;
                $body
            }
            __D::F16 => {
                type $T = half::f16;
                $body
            }
            __D::BF16 => {
                type $T = half::bf16;
                $body
            }
            __D::F32 => {
                type $T = f32;
                $body
            }
            __D::F64 => {
                type $T = f64;
                $body
            }
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;
    use DType::*;

    #[test]
    fn promotion_matches_torch_table() {
        // Pairs checked against torch.promote_types.
        let cases = [
            (U8, I8, I16),
            (U8, I16, I16),
            (U8, I64, I64),
            (I8, I32, I32),
            (Bool, U8, U8),
            (I64, F16, F16),
            (F16, BF16, F32),
            (BF16, F64, F64),
            (I32, F32, F32),
            (Bool, Bool, Bool),
        ];
        for (a, b, want) in cases {
            assert_eq!(DType::promote(a, b), want, "{a} {b}");
            assert_eq!(DType::promote(b, a), want, "{b} {a}");
        }
    }

    #[test]
    fn python_scalars_promote_only_across_categories() {
        let t = |d| (d, Priority::Dim);
        let w = |d| (d, Priority::Wrapped);
        assert_eq!(result_type(&[t(I32), w(F64)], F32), F32);
        assert_eq!(result_type(&[t(U8), w(I64)], F32), U8);
        assert_eq!(result_type(&[t(Bool), w(I64)], F32), I64);
        assert_eq!(result_type(&[t(F16), w(F64)], F32), F16);
        assert_eq!(result_type(&[t(F32), (F64, Priority::ZeroDim)], F32), F32);
        assert_eq!(result_type(&[t(I32), (F64, Priority::ZeroDim)], F32), F64);
        assert_eq!(result_type(&[t(I32), w(F64)], F64), F64);
    }
}

static DEFAULT_FLOAT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(DType::F32 as u8);

/// torch.get_default_dtype().
pub fn default_float() -> DType {
    ALL_DTYPES[DEFAULT_FLOAT.load(std::sync::atomic::Ordering::Relaxed) as usize]
}

/// torch.set_default_dtype(); only floating types are allowed.
pub fn set_default_float(d: DType) -> crate::error::Result<()> {
    if !d.is_float() {
        return Err(crate::error::Error::type_error("only floating-point types are supported as the default type"));
    }
    DEFAULT_FLOAT.store(d as u8, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}
