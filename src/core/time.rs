//! Points in time as AWS and its CLI write them (RFC 3339, or seconds since the
//! epoch), to the millisecond, in UTC. The core never reads a clock: the time
//! of an audit comes in as a value.

use std::fmt;

/// A point in time: milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

const MS_PER_SECOND: i64 = 1_000;
const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_DAY: i64 = 86_400_000;
/// Years that RFC 3339 can write with four digits.
const FIRST_YEAR: i64 = 0;
const LAST_YEAR: i64 = 9_999;

impl Timestamp {
    pub const fn from_millis(millis: i64) -> Timestamp {
        Timestamp(millis)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Seconds since the epoch, as AWS's JSON writes them (`1795316400.123`), rounded
    /// to the millisecond; None for what is no time (NaN, beyond year 9999).
    pub fn from_epoch_seconds(seconds: f64) -> Option<Timestamp> {
        let millis = (seconds * 1_000.0).round();
        let limit = days_from_civil(LAST_YEAR + 1, 1, 1) as f64 * MS_PER_DAY as f64;
        (millis.is_finite() && millis.abs() < limit).then_some(Timestamp(millis as i64))
    }

    /// `hours` hours earlier (saturating).
    pub fn hours_before(self, hours: i64) -> Timestamp {
        Timestamp(self.0.saturating_sub(hours.saturating_mul(MS_PER_HOUR)))
    }

    /// How long `earlier` came before this time, in milliseconds (negative when it
    /// came after).
    pub fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Reads RFC 3339 (`2026-11-22T03:00:00Z`, `2026-11-22T04:00:00.5+01:00`),
    /// which is also what the AWS CLI prints (`2026-11-22T03:00:00.123000+00:00`).
    /// Digits beyond the millisecond are dropped.
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        let b = text.as_bytes();
        let digits = |from: usize, count: usize| -> Option<i64> {
            let part = b.get(from..from + count)?;
            part.iter()
                .all(u8::is_ascii_digit)
                .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
        };
        let at = |i: usize, c: u8| b.get(i) == Some(&c);
        if !(at(4, b'-')
            && at(7, b'-')
            && (at(10, b'T') || at(10, b't') || at(10, b' '))
            && at(13, b':')
            && at(16, b':'))
        {
            return None;
        }
        let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
        let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let mut i = 19;
        let mut millis = 0;
        if at(i, b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                if i - start < 3 {
                    millis = millis * 10 + i64::from(b[i] - b'0');
                }
                i += 1;
            }
            let shown = i - start;
            if shown == 0 {
                return None;
            }
            for _ in shown..3 {
                millis *= 10;
            }
        }
        let offset_minutes = match b.get(i) {
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && at(i + 3, b':') => {
                let (h, m) = (digits(i + 1, 2)?, digits(i + 4, 2)?);
                if h > 23 || m > 59 {
                    return None;
                }
                let minutes = h * 60 + m;
                if *sign == b'-' {
                    -minutes
                } else {
                    minutes
                }
            }
            _ => return None,
        };
        // A leap second is read as the second before the next minute.
        let second = second.min(59);
        let days = days_from_civil(year, month, day);
        let local = days * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * MS_PER_SECOND + millis;
        Some(Timestamp(local - offset_minutes * 60 * MS_PER_SECOND))
    }
}

/// RFC 3339 in UTC: `2026-11-22T03:00:00Z`, with the milliseconds when there are any
/// (`2026-11-22T03:00:00.120Z`). Out of RFC 3339's range, the nearest end of it.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = days_from_civil(FIRST_YEAR, 1, 1) * MS_PER_DAY;
        let last = days_from_civil(LAST_YEAR + 1, 1, 1) * MS_PER_DAY - 1;
        let millis = self.0.clamp(first, last);
        let (days, in_day) = (millis.div_euclid(MS_PER_DAY), millis.rem_euclid(MS_PER_DAY));
        let (year, month, day) = civil_from_days(days);
        let seconds = in_day / MS_PER_SECOND;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )?;
        match in_day % MS_PER_SECOND {
            0 => f.write_str("Z"),
            ms => write!(f, ".{ms:03}Z"),
        }
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date of the proleptic Gregorian calendar (Howard
/// Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a number of days since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> i64 {
        Timestamp::parse_rfc3339(text)
            .unwrap_or_else(|| panic!("{text} should parse"))
            .millis()
    }

    #[test]
    fn reads_what_aws_and_its_cli_write() {
        // 2026-11-22T03:00:00Z = 1795316400 s (checked with `date -d ... +%s`).
        assert_eq!(parsed("2026-11-22T03:00:00Z"), 1_795_316_400_000);
        assert_eq!(parsed("2026-11-22T03:00:00.123Z"), 1_795_316_400_123);
        assert_eq!(parsed("2026-11-22T03:00:00.123000+00:00"), 1_795_316_400_123);
        assert_eq!(parsed("2026-11-22T04:30:00.5+01:30"), 1_795_316_400_500);
        assert_eq!(parsed("2026-11-21T22:00:00-05:00"), 1_795_316_400_000);
        assert_eq!(parsed("1970-01-01T00:00:00Z"), 0);
        assert_eq!(parsed("1969-12-31T23:59:59.999Z"), -1);
        assert_eq!(parsed("2024-02-29T00:00:00Z"), 1_709_164_800_000);
        assert_eq!(parsed("2026-11-22t03:00:00z"), 1_795_316_400_000);
        assert_eq!(
            Timestamp::from_epoch_seconds(1_795_316_400.123),
            Some(Timestamp::from_millis(1_795_316_400_123)),
            "AWS's float seconds round to AWS's millisecond"
        );
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "",
            "2026-11-22",
            "2026-11-22T03:00:00",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-31T00:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T03:00:00.Z",
            "2026-11-22T03:00:00+0100",
            "2026-11-22T03:00:00Zjunk",
            "２026-11-22T03:00:00Z",
            "now-3h",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad:?}");
        }
        assert_eq!(Timestamp::from_epoch_seconds(f64::NAN), None);
        assert_eq!(Timestamp::from_epoch_seconds(1e300), None);
    }

    #[test]
    fn writes_rfc3339_in_utc_and_reads_it_back() {
        let t = Timestamp::from_millis(1_795_316_400_123);
        assert_eq!(t.to_string(), "2026-11-22T03:00:00.123Z");
        assert_eq!(
            Timestamp::from_millis(1_795_316_400_000).to_string(),
            "2026-11-22T03:00:00Z"
        );
        assert_eq!(Timestamp::from_millis(-1).to_string(), "1969-12-31T23:59:59.999Z");
        assert_eq!(Timestamp::from_millis(i64::MAX).to_string(), "9999-12-31T23:59:59.999Z");
        for millis in [
            0,
            1,
            951_782_400_000,
            1_709_164_800_000,
            4_102_444_799_999,
            -62_135_596_800_000,
        ] {
            let t = Timestamp::from_millis(millis);
            assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Some(t), "{t}");
        }
    }

    #[test]
    fn hours_and_ages() {
        let now = Timestamp::from_millis(1_795_316_400_000);
        assert_eq!(now.hours_before(26).millis(), 1_795_316_400_000 - 26 * 3_600_000);
        assert_eq!(now.millis_since(now.hours_before(1)), 3_600_000);
        assert_eq!(Timestamp::from_millis(i64::MIN).hours_before(1).millis(), i64::MIN);
    }
}
