//! Float input syntax and PostgreSQL's `numeric`: parsing, conversion from floats,
//! the base-10000 wire format and the display PostgreSQL prints.

use std::fmt::{self, Write as _};

use bytes::{BufMut, BytesMut};

use super::encode::out_of_range;
use super::{Fail, invalid};

/// Float syntax as PostgreSQL's float input takes it, range errors included.
pub(super) fn parse_float<F: PgFloat>(text: &str, type_name: &str) -> Result<F, Fail> {
    let s = text.trim_ascii();
    let (_, unsigned) = split_sign(s);
    let special = ["infinity", "inf"]
        .iter()
        .any(|word| unsigned.eq_ignore_ascii_case(word))
        || s.eq_ignore_ascii_case("nan");
    let syntax = || {
        Fail::Syntax(format!(
            "not a valid {type_name} (expected a decimal number, NaN or Infinity)"
        ))
    };
    if !special && scan_decimal(s).is_none() {
        return Err(syntax());
    }
    let value: F = s.parse().map_err(|_| syntax())?;
    check_float_range(value, !special, mantissa_is_nonzero(s), type_name)
}

/// Rejects what PostgreSQL rejects: a finite input that overflowed or a nonzero
/// one that underflowed to zero.
fn check_float_range<F: PgFloat>(
    value: F,
    finite_input: bool,
    nonzero_input: bool,
    type_name: &str,
) -> Result<F, Fail> {
    if finite_input && value.is_infinite() {
        return Err(invalid(format!("out of range for {type_name} (overflow)")));
    }
    if nonzero_input && value.is_zero() {
        return Err(invalid(format!("out of range for {type_name} (underflow)")));
    }
    Ok(value)
}

fn mantissa_is_nonzero(s: &str) -> bool {
    s.bytes()
        .take_while(|b| !matches!(b, b'e' | b'E'))
        .any(|b| matches!(b, b'1'..=b'9'))
}

/// The float types, for parsing and range checks shared between them.
pub(super) trait PgFloat: std::str::FromStr + Copy {
    fn is_infinite(self) -> bool;
    fn is_zero(self) -> bool;
}

impl PgFloat for f32 {
    fn is_infinite(self) -> bool {
        f32::is_infinite(self)
    }
    fn is_zero(self) -> bool {
        self == 0.0
    }
}

impl PgFloat for f64 {
    fn is_infinite(self) -> bool {
        f64::is_infinite(self)
    }
    fn is_zero(self) -> bool {
        self == 0.0
    }
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

/// The pieces of `[sign]digits[.digits][e[sign]digits]`.
struct DecimalParts<'a> {
    negative: bool,
    pub(super) integer: &'a str,
    pub(super) fraction: &'a str,
    /// Saturates far beyond any limit a caller checks, so it cannot overflow.
    exponent: i64,
}

fn scan_decimal(s: &str) -> Option<DecimalParts<'_>> {
    let (negative, body) = split_sign(s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if (integer.is_empty() && fraction.is_empty()) || !all_digits(integer) || !all_digits(fraction)
    {
        return None;
    }
    let exponent = match exponent {
        None => 0,
        Some(e) => {
            let (negative, magnitude) = split_sign(e);
            if magnitude.is_empty() || !all_digits(magnitude) {
                return None;
            }
            let value = magnitude.bytes().fold(0i64, |acc, b| {
                acc.saturating_mul(10).saturating_add(i64::from(b - b'0'))
            });
            if negative { -value } else { value }
        }
    };
    Some(DecimalParts {
        negative,
        integer,
        fraction,
        exponent,
    })
}

pub(super) const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;
/// PostgreSQL's limits on a numeric's exponent and display scale.
const NUMERIC_MAX_EXPONENT: i64 = 1000;
const NUMERIC_MAX_DSCALE: i64 = 0x3FFF;

/// A numeric in PostgreSQL's own representation: base-10000 digits, the first of
/// weight `weight`, with no leading or trailing zero digits, shown with `dscale`
/// decimal places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Numeric {
    pub(super) sign: u16,
    pub(super) weight: i16,
    pub(super) dscale: u16,
    pub(super) digits: Vec<i16>,
}

impl Numeric {
    pub(super) fn special(sign: u16) -> Numeric {
        Numeric {
            sign,
            weight: 0,
            dscale: 0,
            digits: Vec::new(),
        }
    }

    fn is_special(&self) -> bool {
        self.sign != NUMERIC_POS && self.sign != NUMERIC_NEG
    }

    pub(super) fn from_integer(v: i64) -> Numeric {
        let text = v.to_string();
        let (negative, magnitude) = split_sign(&text);
        // At most 20 digits and scale 0: nothing here can exceed a limit.
        Numeric::from_digits(negative, magnitude.as_bytes(), magnitude.len() as i64, 0)
            .unwrap_or_else(|_| Numeric::special(NUMERIC_NAN))
    }

    /// Converts as PostgreSQL's float-to-numeric cast does: rounded to `significant`
    /// digits, NaN and the infinities kept.
    pub(super) fn from_float(v: f64, significant: usize) -> Result<Numeric, Fail> {
        if v.is_nan() {
            return Ok(Numeric::special(NUMERIC_NAN));
        }
        if v.is_infinite() {
            return Ok(Numeric::special(if v > 0.0 {
                NUMERIC_PINF
            } else {
                NUMERIC_NINF
            }));
        }
        let scientific = format!("{:.*e}", significant - 1, v);
        let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
        // printf's %g, which PostgreSQL goes through, drops trailing zeros; they
        // would otherwise count towards the scale.
        let mantissa = if mantissa.contains('.') {
            mantissa.trim_end_matches('0').trim_end_matches('.')
        } else {
            mantissa
        };
        parse_numeric(&format!("{mantissa}e{exponent}"))
    }

    /// Builds a numeric from decimal digits with `point` of them before the decimal point.
    fn from_digits(
        negative: bool,
        decimal: &[u8],
        point: i64,
        dscale: u16,
    ) -> Result<Numeric, Fail> {
        let first = decimal.iter().position(|&d| d != b'0');
        let last = decimal.iter().rposition(|&d| d != b'0');
        let (Some(first), Some(last)) = (first, last) else {
            // Zero is never negative in PostgreSQL.
            return Ok(Numeric {
                sign: NUMERIC_POS,
                weight: 0,
                dscale,
                digits: Vec::new(),
            });
        };
        let significant = &decimal[first..=last];
        let point = point - first as i64;
        // Zero-pad in front so the decimal point falls on a base-10000 digit boundary.
        let pad = (4 - point.rem_euclid(4)) % 4;
        let weight = (point + pad) / 4 - 1;
        let padded_len = pad as usize + significant.len();
        let digits: Vec<i16> = (0..padded_len.div_ceil(4))
            .map(|group| {
                (0..4).fold(0i16, |acc, k| {
                    let at = (group * 4 + k) as i64 - pad;
                    let d = usize::try_from(at)
                        .ok()
                        .and_then(|at| significant.get(at))
                        .map_or(0, |d| d - b'0');
                    acc * 10 + i16::from(d)
                })
            })
            .collect();
        let weight =
            i16::try_from(weight).map_err(|_| invalid("value overflows numeric format"))?;
        if i16::try_from(digits.len()).is_err() {
            return Err(invalid("value overflows numeric format"));
        }
        Ok(Numeric {
            sign: if negative { NUMERIC_NEG } else { NUMERIC_POS },
            weight,
            dscale,
            digits,
        })
    }

    pub(super) fn write(&self, out: &mut BytesMut) {
        // Lengths were bounded when the digits were built.
        out.put_i16(self.digits.len() as i16);
        out.put_i16(self.weight);
        out.put_u16(self.sign);
        out.put_u16(self.dscale);
        for &digit in &self.digits {
            out.put_i16(digit);
        }
    }

    pub(super) fn read(raw: &[u8]) -> Result<Numeric, String> {
        let field = |at: usize| -> Result<[u8; 2], String> {
            raw.get(at..at + 2)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| "numeric value is truncated".to_owned())
        };
        let ndigits = i16::from_be_bytes(field(0)?);
        let weight = i16::from_be_bytes(field(2)?);
        let sign = u16::from_be_bytes(field(4)?);
        let dscale = u16::from_be_bytes(field(6)?);
        let ndigits = usize::try_from(ndigits).map_err(|_| "negative numeric digit count")?;
        if raw.len() != 8 + 2 * ndigits {
            return Err(format!(
                "numeric of {ndigits} digits has {} bytes",
                raw.len()
            ));
        }
        if ![
            NUMERIC_POS,
            NUMERIC_NEG,
            NUMERIC_NAN,
            NUMERIC_PINF,
            NUMERIC_NINF,
        ]
        .contains(&sign)
        {
            return Err(format!("unknown numeric sign {sign:#06x}"));
        }
        let digits = (0..ndigits)
            .map(|i| {
                let digit = i16::from_be_bytes(field(8 + 2 * i)?);
                if (0..10_000).contains(&digit) {
                    Ok(digit)
                } else {
                    Err(format!("numeric digit {digit} is not in base 10000"))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Numeric {
            sign,
            weight,
            dscale,
            digits,
        })
    }

    pub(super) fn to_integer(&self) -> Result<i64, Fail> {
        if self.is_special() {
            return Err(invalid(format!("{self} has no integer value")));
        }
        let weight = i64::from(self.weight);
        if self.digits.len() as i64 > weight + 1 {
            return Err(invalid(
                "has a fractional part; round it, or write the parameter as $1::numeric \
                 so PostgreSQL rounds it",
            ));
        }
        // Past five base-10000 digits the value cannot fit an i64 anyway.
        if weight > 5 {
            return Err(out_of_range("int8"));
        }
        let magnitude = (0..=weight).fold(0i128, |acc, k| {
            let digit = self.digits.get(k as usize).copied().unwrap_or(0);
            acc * 10_000 + i128::from(digit)
        });
        let value = if self.sign == NUMERIC_NEG {
            -magnitude
        } else {
            magnitude
        };
        i64::try_from(value).map_err(|_| out_of_range("int8"))
    }

    pub(super) fn to_float<F: PgFloat>(&self, type_name: &str) -> Result<F, Fail> {
        let value: F = self
            .to_string()
            .parse()
            .map_err(|_| invalid(format!("cannot convert to {type_name}")))?;
        check_float_range(
            value,
            !self.is_special(),
            !self.digits.is_empty(),
            type_name,
        )
    }
}

pub(super) fn parse_numeric(text: &str) -> Result<Numeric, Fail> {
    let s = text.trim_ascii();
    let (negative, unsigned) = split_sign(s);
    // NaN takes no sign; the infinities may have one.
    if s.eq_ignore_ascii_case("nan") {
        return Ok(Numeric::special(NUMERIC_NAN));
    }
    if unsigned.eq_ignore_ascii_case("infinity") || unsigned.eq_ignore_ascii_case("inf") {
        return Ok(Numeric::special(if negative {
            NUMERIC_NINF
        } else {
            NUMERIC_PINF
        }));
    }
    let parts = scan_decimal(s).ok_or_else(|| {
        Fail::Syntax(
            "not a valid numeric (expected digits with an optional sign, decimal point and \
             exponent, NaN or Infinity)"
                .to_owned(),
        )
    })?;
    if parts.exponent.abs() > NUMERIC_MAX_EXPONENT {
        return Err(invalid("numeric exponent out of range"));
    }
    // Like PostgreSQL, an exponent shifts the scale: 1.50e1 is 15.0.
    let dscale = (parts.fraction.len() as i64 - parts.exponent).max(0);
    let dscale = u16::try_from(dscale)
        .ok()
        .filter(|&d| i64::from(d) <= NUMERIC_MAX_DSCALE)
        .ok_or_else(|| invalid("numeric scale out of range"))?;
    let decimal = [parts.integer.as_bytes(), parts.fraction.as_bytes()].concat();
    let point = parts.integer.len() as i64 + parts.exponent;
    Numeric::from_digits(parts.negative, &decimal, point, dscale)
}

impl fmt::Display for Numeric {
    /// Prints the way PostgreSQL's numeric output does, with exactly `dscale` decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sign {
            NUMERIC_NAN => return f.write_str("NaN"),
            NUMERIC_PINF => return f.write_str("Infinity"),
            NUMERIC_NINF => return f.write_str("-Infinity"),
            _ => {}
        }
        let weight = i32::from(self.weight);
        let digit_of_weight = |w: i32| -> i16 {
            usize::try_from(weight - w)
                .ok()
                .and_then(|k| self.digits.get(k))
                .copied()
                .unwrap_or(0)
        };
        let mut integer = String::new();
        for w in (0..=weight).rev() {
            let _ = write!(integer, "{:04}", digit_of_weight(w));
        }
        let integer = integer.trim_start_matches('0');
        if self.sign == NUMERIC_NEG {
            f.write_str("-")?;
        }
        f.write_str(if integer.is_empty() { "0" } else { integer })?;
        let dscale = usize::from(self.dscale);
        if dscale > 0 {
            let mut fraction = String::with_capacity(dscale + 4);
            let mut w = -1;
            while fraction.len() < dscale {
                let _ = write!(fraction, "{:04}", digit_of_weight(w));
                w -= 1;
            }
            write!(f, ".{}", &fraction[..dscale])?;
        }
        Ok(())
    }
}
