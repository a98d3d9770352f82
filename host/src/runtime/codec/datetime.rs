//! The civil calendar and PostgreSQL's date, time and timestamp syntax, parsed and printed.

use std::fmt::Write as _;

use super::{Fail, invalid};

/// Something that may also be one of PostgreSQL's infinities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Extended<T> {
    NegInfinity,
    Finite(T),
    Infinity,
}

/// Local wall-clock microseconds since 2000-01-01, with the offset east of UTC
/// in microseconds if the text had one.
type Stamp = Extended<(i64, Option<i64>)>;

impl Stamp {
    /// Microseconds for a `timestamp`: the wall-clock time, offset ignored.
    pub(super) fn wall(&self) -> i64 {
        match *self {
            Extended::NegInfinity => i64::MIN,
            Extended::Finite((local, _)) => local,
            Extended::Infinity => i64::MAX,
        }
    }

    /// Microseconds for a `timestamptz`: the instant, taking no offset as UTC.
    pub(super) fn instant(&self) -> Result<i64, Fail> {
        match *self {
            Extended::Finite((local, Some(offset))) => local
                .checked_sub(offset)
                .ok_or_else(|| invalid("timestamp out of range")),
            _ => Ok(self.wall()),
        }
    }
}

pub(super) const USECS_PER_SEC: i64 = 1_000_000;
pub(super) const USECS_PER_DAY: i64 = 86_400 * USECS_PER_SEC;

pub(crate) fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(super) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from PostgreSQL's epoch, 2000-01-01, to a proleptic Gregorian date
/// whose year 0 is 1 BC.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Leap years in (0, n]; floor division keeps the count right for n < 0.
    let leaps_through = |n: i64| n.div_euclid(4) - n.div_euclid(100) + n.div_euclid(400);
    const DAYS_BEFORE_MONTH: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let year_start = 365 * (year - 2000) + leaps_through(year - 1) - leaps_through(1999);
    let leap_day = i64::from(month > 2 && is_leap(year));
    year_start + DAYS_BEFORE_MONTH[(month - 1) as usize] + leap_day + i64::from(day) - 1
}

/// The date `days` after 2000-01-01, as (year, month, day) with year 0 for 1 BC.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // 146097 days make 400 Gregorian years; that guess is off by at most one year.
    let mut year = 2000 + (days * 400).div_euclid(146_097);
    while days_from_civil(year, 1, 1) > days {
        year -= 1;
    }
    while days_from_civil(year + 1, 1, 1) <= days {
        year += 1;
    }
    let mut rest = days - days_from_civil(year, 1, 1);
    let mut month = 1;
    loop {
        let length = i64::from(days_in_month(year, month));
        if rest < length {
            break;
        }
        rest -= length;
        month += 1;
    }
    (year, month, rest as u32 + 1)
}

/// Parses exactly `min..=max` ASCII digits.
pub(super) fn digits(s: &str, min: usize, max: usize) -> Option<i64> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn strip_suffix_ignore_case<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &s[..cut])
}

/// Splits off PostgreSQL's ` BC` era suffix.
fn strip_era(s: &str) -> (&str, bool) {
    match strip_suffix_ignore_case(s, " BC") {
        Some(rest) => (rest.trim_end_matches(' '), true),
        None => (s, false),
    }
}

/// Parses `YYYY-MM-DD` (four to seven year digits) into days since 2000-01-01.
fn parse_ymd(s: &str, bc: bool) -> Option<i64> {
    let mut parts = s.split('-');
    let year = digits(parts.next()?, 4, 7)?;
    let month = u32::try_from(digits(parts.next()?, 1, 2)?).ok()?;
    let day = u32::try_from(digits(parts.next()?, 1, 2)?).ok()?;
    if parts.next().is_some() || !(1..=12).contains(&month) {
        return None;
    }
    // There is no year 0: 1 BC is astronomical year 0.
    let year = if bc {
        if year == 0 {
            return None;
        }
        1 - year
    } else {
        year
    };
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Matches the special inputs that date and timestamp input share.
fn special_day(s: &str) -> Option<Extended<i64>> {
    if s.eq_ignore_ascii_case("infinity") {
        Some(Extended::Infinity)
    } else if s.eq_ignore_ascii_case("-infinity") {
        Some(Extended::NegInfinity)
    } else if s.eq_ignore_ascii_case("epoch") {
        Some(Extended::Finite(days_from_civil(1970, 1, 1)))
    } else {
        None
    }
}

pub(super) fn parse_date(text: &str) -> Result<Extended<i32>, Fail> {
    let s = text.trim_ascii();
    let days = match special_day(s) {
        Some(Extended::Finite(days)) => days,
        Some(Extended::Infinity) => return Ok(Extended::Infinity),
        Some(Extended::NegInfinity) => return Ok(Extended::NegInfinity),
        None => {
            let (s, bc) = strip_era(s);
            parse_ymd(s, bc).ok_or_else(|| {
                Fail::Syntax(
                    "not a valid date (expected YYYY-MM-DD, infinity or -infinity)".to_owned(),
                )
            })?
        }
    };
    match i32::try_from(days) {
        Ok(days) if days != i32::MIN && days != i32::MAX => Ok(Extended::Finite(days)),
        _ => Err(invalid("date out of range")),
    }
}

/// Parses `H[H]:MM[:SS[.fraction]]` into microseconds since midnight, up to 24:00:00.
fn parse_time_of_day(s: &str) -> Option<i64> {
    let mut parts = s.splitn(3, ':');
    let hours = digits(parts.next()?, 1, 2)?;
    let minutes = digits(parts.next()?, 2, 2)?;
    let (seconds, micros) = match parts.next() {
        None => (0, 0),
        Some(rest) => {
            let (whole, fraction) = match rest.split_once('.') {
                Some((whole, fraction)) => (whole, Some(fraction)),
                None => (rest, None),
            };
            let micros = match fraction {
                Some(f) => round_micros(f)?,
                None => 0,
            };
            (digits(whole, 2, 2)?, micros)
        }
    };
    // PostgreSQL accepts a leap second (:60) by rolling it into the next minute.
    if hours > 24 || minutes > 59 || seconds > 60 {
        return None;
    }
    let total = ((hours * 60 + minutes) * 60 + seconds) * USECS_PER_SEC + micros;
    (total <= USECS_PER_DAY).then_some(total)
}

/// Turns fractional-second digits into microseconds, rounding half to even past
/// the sixth digit as PostgreSQL's `rint` does.
fn round_micros(fraction: &str) -> Option<i64> {
    if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (kept, dropped) = fraction.split_at(fraction.len().min(6));
    let micros = format!("{kept:0<6}").parse::<i64>().ok()?;
    let round_up = match dropped.as_bytes().split_first() {
        Some((&first, _)) if first > b'5' => true,
        Some((&b'5', rest)) => rest.iter().any(|&b| b != b'0') || micros % 2 == 1,
        _ => false,
    };
    Some(micros + i64::from(round_up))
}

pub(super) fn parse_time(text: &str) -> Result<i64, Fail> {
    parse_time_of_day(text.trim_ascii()).ok_or_else(|| {
        Fail::Syntax("not a valid time (expected HH:MM:SS[.ffffff], at most 24:00:00)".to_owned())
    })
}

/// Parses `Z`, `UTC`, `±HH`, `±HHMM` or `±HH:MM` into microseconds east of UTC.
fn parse_offset(s: &str) -> Option<i64> {
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (hours, minutes) = if let Some((h, m)) = rest.split_once(':') {
        (digits(h, 1, 2)?, digits(m, 2, 2)?)
    } else if rest.len() == 4 {
        (digits(rest.get(..2)?, 2, 2)?, digits(rest.get(2..)?, 2, 2)?)
    } else {
        (digits(rest, 1, 2)?, 0)
    };
    // PostgreSQL's limit for a numeric zone offset.
    if hours > 15 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60) * USECS_PER_SEC)
}

/// Parses `YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]][offset][ BC]`, `infinity`,
/// `-infinity` or `epoch`.
pub(super) fn parse_timestamp(text: &str) -> Result<Stamp, Fail> {
    let s = text.trim_ascii();
    match special_day(s) {
        Some(Extended::Finite(days)) => return Ok(Extended::Finite((days * USECS_PER_DAY, None))),
        Some(Extended::Infinity) => return Ok(Extended::Infinity),
        Some(Extended::NegInfinity) => return Ok(Extended::NegInfinity),
        None => {}
    }
    let stamp = parse_finite_timestamp(s).ok_or_else(|| {
        Fail::Syntax(
            "not a valid timestamp (expected YYYY-MM-DD HH:MM:SS[.ffffff] with an optional \
             Z or +HH:MM offset)"
                .to_owned(),
        )
    })?;
    Ok(Extended::Finite(
        stamp.ok_or_else(|| invalid("timestamp out of range"))?,
    ))
}

/// The outer `None` is a syntax error, the inner one a value too far out to count.
fn parse_finite_timestamp(s: &str) -> Option<Option<(i64, Option<i64>)>> {
    let (s, bc) = strip_era(s);
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(at) => (&s[..at], s[at + 1..].trim_start_matches(' ')),
        None => (s, ""),
    };
    let days = parse_ymd(date, bc)?;
    let (micros, offset) = if rest.is_empty() {
        (0, None)
    } else {
        let split = rest.find(['+', '-', 'Z', 'z', ' ']).unwrap_or(rest.len());
        let zone = rest[split..].trim_start_matches(' ');
        let offset = if zone.is_empty() {
            None
        } else {
            Some(parse_offset(zone)?)
        };
        (parse_time_of_day(&rest[..split])?, offset)
    };
    let local = days
        .checked_mul(USECS_PER_DAY)
        .and_then(|start| start.checked_add(micros));
    Some(local.map(|local| (local, offset)))
}

pub(super) fn format_date(days: i32) -> String {
    match days {
        i32::MIN => "-infinity".to_owned(),
        i32::MAX => "infinity".to_owned(),
        days => {
            let mut s = String::with_capacity(13);
            let bc = push_ymd(&mut s, i64::from(days));
            if bc {
                s.push_str(" BC");
            }
            s
        }
    }
}

/// Appends `YYYY-MM-DD` and returns whether the year is BC, for the caller to
/// place the suffix where PostgreSQL does: at the very end.
pub(super) fn push_ymd(s: &mut String, days: i64) -> bool {
    let (year, month, day) = civil_from_days(days);
    let (year, bc) = if year <= 0 {
        (1 - year, true)
    } else {
        (year, false)
    };
    let _ = write!(s, "{year:04}-{month:02}-{day:02}");
    bc
}

fn push_time(s: &mut String, micros: i64) {
    let secs = micros / USECS_PER_SEC;
    let fraction = micros % USECS_PER_SEC;
    let _ = write!(
        s,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        s.push('.');
        s.push_str(digits.trim_end_matches('0'));
    }
}

pub(super) fn format_time(micros: i64) -> String {
    let mut s = String::with_capacity(15);
    push_time(&mut s, micros);
    s
}

/// `utc` selects the timestamptz rendering: ISO 8601 with a `+00:00` offset.
pub(super) fn format_timestamp(micros: i64, utc: bool) -> String {
    match micros {
        i64::MIN => return "-infinity".to_owned(),
        i64::MAX => return "infinity".to_owned(),
        _ => {}
    }
    let mut s = String::with_capacity(35);
    let bc = push_ymd(&mut s, micros.div_euclid(USECS_PER_DAY));
    s.push(if utc { 'T' } else { ' ' });
    push_time(&mut s, micros.rem_euclid(USECS_PER_DAY));
    if utc {
        s.push_str("+00:00");
    }
    if bc {
        s.push_str(" BC");
    }
    s
}
