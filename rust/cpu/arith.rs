//! Scalar math for every element type, with torch's semantics: integers wrap, integer division
//! floors (floor_divide) or truncates (rounding_mode='trunc'), remainder takes the divisor's
//! sign, half types compute in f32.

use crate::dtype::Elem;
use half::{bf16, f16};

pub trait Arith: Elem {
    fn add(a: Self, b: Self) -> Self;
    fn sub(a: Self, b: Self) -> Self;
    fn mul(a: Self, b: Self) -> Self;
    /// True division for floats; floor division for integers (only used through FloorDiv).
    fn div(a: Self, b: Self) -> Self;
    fn floor_div(a: Self, b: Self) -> Self;
    fn trunc_div(a: Self, b: Self) -> Self;
    fn remainder(a: Self, b: Self) -> Self;
    fn fmod(a: Self, b: Self) -> Self;
    fn pow(a: Self, b: Self) -> Self;
    fn maximum(a: Self, b: Self) -> Self;
    fn minimum(a: Self, b: Self) -> Self;
    fn neg(a: Self) -> Self;
    fn abs(a: Self) -> Self;
    fn sign(a: Self) -> Self;
    fn is_zero(a: Self) -> bool;
    fn is_nan(a: Self) -> bool;
}

/// Bitwise ops, integers and bool only.
pub trait Bits: Elem {
    fn and(a: Self, b: Self) -> Self;
    fn or(a: Self, b: Self) -> Self;
    fn xor(a: Self, b: Self) -> Self;
    fn not(a: Self) -> Self;
    fn shl(a: Self, b: Self) -> Self;
    fn shr(a: Self, b: Self) -> Self;
}

macro_rules! int_arith {
    ($t:ty) => {
        impl Arith for $t {
            #[inline(always)]
            fn add(a: Self, b: Self) -> Self {
                a.wrapping_add(b)
            }
            #[inline(always)]
            fn sub(a: Self, b: Self) -> Self {
                a.wrapping_sub(b)
            }
            #[inline(always)]
            fn mul(a: Self, b: Self) -> Self {
                a.wrapping_mul(b)
            }
            #[inline(always)]
            fn div(a: Self, b: Self) -> Self {
                Self::floor_div(a, b)
            }
            #[inline(always)]
            fn floor_div(a: Self, b: Self) -> Self {
                if b == 0 {
                    return 0;
                }
                let q = a.wrapping_div(b);
                #[allow(unused_comparisons)]
                let neg = (a % b != 0) && ((a < 0) != (b < 0));
                if neg {
                    q.wrapping_sub(1)
                } else {
                    q
                }
            }
            #[inline(always)]
            fn trunc_div(a: Self, b: Self) -> Self {
                if b == 0 {
                    0
                } else {
                    a.wrapping_div(b)
                }
            }
            #[inline(always)]
            fn remainder(a: Self, b: Self) -> Self {
                if b == 0 {
                    return 0;
                }
                let r = a.wrapping_rem(b);
                #[allow(unused_comparisons)]
                let fix = r != 0 && ((r < 0) != (b < 0));
                if fix {
                    r.wrapping_add(b)
                } else {
                    r
                }
            }
            #[inline(always)]
            fn fmod(a: Self, b: Self) -> Self {
                if b == 0 {
                    0
                } else {
                    a.wrapping_rem(b)
                }
            }
            #[inline(always)]
            fn pow(a: Self, b: Self) -> Self {
                #[allow(unused_comparisons)]
                if b < 0 {
                    // torch: integer to a negative power is 1 for base 1, +-1 for -1, else 0.
                    return if a == 1 {
                        1
                    } else if a as i64 == -1 {
                        if (b as i64) % 2 == 0 {
                            1
                        } else {
                            a
                        }
                    } else {
                        0
                    };
                }
                let mut result: Self = 1;
                let mut base = a;
                let mut e = b as u64;
                while e > 0 {
                    if e & 1 == 1 {
                        result = result.wrapping_mul(base);
                    }
                    base = base.wrapping_mul(base);
                    e >>= 1;
                }
                result
            }
            #[inline(always)]
            fn maximum(a: Self, b: Self) -> Self {
                if a > b {
                    a
                } else {
                    b
                }
            }
            #[inline(always)]
            fn minimum(a: Self, b: Self) -> Self {
                if a < b {
                    a
                } else {
                    b
                }
            }
            #[inline(always)]
            fn neg(a: Self) -> Self {
                (0 as $t).wrapping_sub(a)
            }
            #[inline(always)]
            #[allow(unused_comparisons)]
            fn abs(a: Self) -> Self {
                if a < 0 {
                    (0 as $t).wrapping_sub(a)
                } else {
                    a
                }
            }
            #[inline(always)]
            #[allow(unused_comparisons)]
            fn sign(a: Self) -> Self {
                if a > 0 {
                    1
                } else if a < 0 {
                    (0 as $t).wrapping_sub(1)
                } else {
                    0
                }
            }
            #[inline(always)]
            fn is_zero(a: Self) -> bool {
                a == 0
            }
            #[inline(always)]
            fn is_nan(_: Self) -> bool {
                false
            }
        }
        impl Bits for $t {
            #[inline(always)]
            fn and(a: Self, b: Self) -> Self {
                a & b
            }
            #[inline(always)]
            fn or(a: Self, b: Self) -> Self {
                a | b
            }
            #[inline(always)]
            fn xor(a: Self, b: Self) -> Self {
                a ^ b
            }
            #[inline(always)]
            fn not(a: Self) -> Self {
                !a
            }
            #[inline(always)]
            #[allow(unused_comparisons)]
            fn shl(a: Self, b: Self) -> Self {
                let bits = (std::mem::size_of::<$t>() * 8) as i64;
                if b < 0 || (b as i64) >= bits {
                    0
                } else {
                    a.wrapping_shl(b as u32)
                }
            }
            #[inline(always)]
            #[allow(unused_comparisons)]
            fn shr(a: Self, b: Self) -> Self {
                let bits = (std::mem::size_of::<$t>() * 8) as i64;
                if b < 0 || (b as i64) >= bits {
                    if a < 0 {
                        (0 as $t).wrapping_sub(1)
                    } else {
                        0
                    }
                } else {
                    a.wrapping_shr(b as u32)
                }
            }
        }
    };
}
int_arith!(u8);
int_arith!(i8);
int_arith!(i16);
int_arith!(i32);
int_arith!(i64);

impl Arith for bool {
    #[inline(always)]
    fn add(a: Self, b: Self) -> Self {
        a | b
    }
    #[inline(always)]
    fn sub(a: Self, b: Self) -> Self {
        a ^ b
    }
    #[inline(always)]
    fn mul(a: Self, b: Self) -> Self {
        a & b
    }
    #[inline(always)]
    fn div(a: Self, b: Self) -> Self {
        a & b
    }
    #[inline(always)]
    fn floor_div(a: Self, b: Self) -> Self {
        a & b
    }
    #[inline(always)]
    fn trunc_div(a: Self, b: Self) -> Self {
        a & b
    }
    #[inline(always)]
    fn remainder(_: Self, _: Self) -> Self {
        false
    }
    #[inline(always)]
    fn fmod(_: Self, _: Self) -> Self {
        false
    }
    #[inline(always)]
    fn pow(a: Self, b: Self) -> Self {
        a | !b
    }
    #[inline(always)]
    fn maximum(a: Self, b: Self) -> Self {
        a | b
    }
    #[inline(always)]
    fn minimum(a: Self, b: Self) -> Self {
        a & b
    }
    #[inline(always)]
    fn neg(a: Self) -> Self {
        a
    }
    #[inline(always)]
    fn abs(a: Self) -> Self {
        a
    }
    #[inline(always)]
    fn sign(a: Self) -> Self {
        a
    }
    #[inline(always)]
    fn is_zero(a: Self) -> bool {
        !a
    }
    #[inline(always)]
    fn is_nan(_: Self) -> bool {
        false
    }
}

impl Bits for bool {
    #[inline(always)]
    fn and(a: Self, b: Self) -> Self {
        a & b
    }
    #[inline(always)]
    fn or(a: Self, b: Self) -> Self {
        a | b
    }
    #[inline(always)]
    fn xor(a: Self, b: Self) -> Self {
        a ^ b
    }
    #[inline(always)]
    fn not(a: Self) -> Self {
        !a
    }
    #[inline(always)]
    fn shl(a: Self, b: Self) -> Self {
        a & !b
    }
    #[inline(always)]
    fn shr(a: Self, b: Self) -> Self {
        a & !b
    }
}

/// Float math shared by f32/f64 directly and by f16/bf16 through f32.
pub trait FloatMath: Arith {
    type Acc: num_traits::Float + Elem;
    fn up(self) -> Self::Acc;
    fn down(v: Self::Acc) -> Self;
}

macro_rules! float_arith {
    ($t:ty, $acc:ty, $up:expr, $down:expr) => {
        impl FloatMath for $t {
            type Acc = $acc;
            #[inline(always)]
            fn up(self) -> $acc {
                $up(self)
            }
            #[inline(always)]
            fn down(v: $acc) -> Self {
                $down(v)
            }
        }
        impl Arith for $t {
            #[inline(always)]
            fn add(a: Self, b: Self) -> Self {
                $down($up(a) + $up(b))
            }
            #[inline(always)]
            fn sub(a: Self, b: Self) -> Self {
                $down($up(a) - $up(b))
            }
            #[inline(always)]
            fn mul(a: Self, b: Self) -> Self {
                $down($up(a) * $up(b))
            }
            #[inline(always)]
            fn div(a: Self, b: Self) -> Self {
                $down($up(a) / $up(b))
            }
            #[inline(always)]
            fn floor_div(a: Self, b: Self) -> Self {
                let (a, b) = ($up(a), $up(b));
                if b == 0.0 {
                    return $down(a / b);
                }
                // torch's div_floor: fmod-based so that floor_divide(a, b) * b + remainder == a.
                let m = a % b;
                let mut div = (a - m) / b;
                if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
                    div -= 1.0;
                }
                let floordiv = if div != 0.0 {
                    let f = div.floor();
                    if div - f > 0.5 {
                        f + 1.0
                    } else {
                        f
                    }
                } else {
                    (0.0 as $acc).copysign(a / b)
                };
                $down(floordiv)
            }
            #[inline(always)]
            fn trunc_div(a: Self, b: Self) -> Self {
                $down(($up(a) / $up(b)).trunc())
            }
            #[inline(always)]
            fn remainder(a: Self, b: Self) -> Self {
                let (a, b) = ($up(a), $up(b));
                let mut m = a % b;
                if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
                    m += b;
                }
                $down(m)
            }
            #[inline(always)]
            fn fmod(a: Self, b: Self) -> Self {
                $down($up(a) % $up(b))
            }
            #[inline(always)]
            fn pow(a: Self, b: Self) -> Self {
                $down(num_traits::Float::powf($up(a), $up(b)))
            }
            #[inline(always)]
            fn maximum(a: Self, b: Self) -> Self {
                // torch.maximum propagates NaN.
                let (x, y) = ($up(a), $up(b));
                if x.is_nan() || y.is_nan() {
                    $down(<$acc>::NAN)
                } else if x > y {
                    a
                } else {
                    b
                }
            }
            #[inline(always)]
            fn minimum(a: Self, b: Self) -> Self {
                let (x, y) = ($up(a), $up(b));
                if x.is_nan() || y.is_nan() {
                    $down(<$acc>::NAN)
                } else if x < y {
                    a
                } else {
                    b
                }
            }
            #[inline(always)]
            fn neg(a: Self) -> Self {
                $down(-$up(a))
            }
            #[inline(always)]
            fn abs(a: Self) -> Self {
                $down($up(a).abs())
            }
            #[inline(always)]
            fn sign(a: Self) -> Self {
                let x = $up(a);
                $down(if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    // torch: sign(NaN) is 0, sign(-0.0) is 0.0
                    0.0
                })
            }
            #[inline(always)]
            fn is_zero(a: Self) -> bool {
                $up(a) == 0.0
            }
            #[inline(always)]
            fn is_nan(a: Self) -> bool {
                $up(a).is_nan()
            }
        }
    };
}
float_arith!(f32, f32, |x: f32| x, |v: f32| v);
float_arith!(f64, f64, |x: f64| x, |v: f64| v);
float_arith!(f16, f32, |x: f16| x.to_f32(), f16::from_f32);
float_arith!(bf16, f32, |x: bf16| x.to_f32(), bf16::from_f32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_division_floors_like_python() {
        for a in -7i32..=7 {
            for b in [-3i32, -2, 2, 3] {
                let q = (a as f64 / b as f64).floor() as i32;
                assert_eq!(i32::floor_div(a, b), q, "{a} // {b}");
                assert_eq!(i32::remainder(a, b), a - q * b, "{a} % {b}");
            }
        }
        assert_eq!(f32::remainder(-1.0, 3.0), 2.0);
        assert_eq!(f32::floor_div(-7.0, 2.0), -4.0);
        assert_eq!(<i64 as Arith>::pow(3, 4), 81);
        assert_eq!(<i64 as Arith>::pow(2, -1), 0);
        assert_eq!(u8::add(250, 10), 4);
    }
}
