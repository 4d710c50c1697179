//! The Korean calendar the instruments keep (INSTRUMENTS.md: budgets per period reset on
//! the KST calendar, a same-day cancel, the next-day statement cut at 24:00 KST). Korea
//! keeps UTC+9 all year, without daylight saving, so a KST day is a fixed shift of the
//! engine's clock (milliseconds since the Unix epoch, UTC). Pure: the time is an argument.

/// Korea Standard Time's offset from UTC, in milliseconds.
pub const KST_OFFSET_MS: u64 = 9 * 3_600_000;

const DAY_MS: u64 = 86_400_000;

/// The KST day of an instant: days since 1970-01-01 in KST.
pub const fn kst_day(at_ms: u64) -> u32 {
    ((at_ms + KST_OFFSET_MS) / DAY_MS) as u32
}

/// The instant a KST day starts (00:00 KST), in milliseconds since the epoch.
pub const fn kst_day_start_ms(day: u32) -> u64 {
    (day as u64 * DAY_MS).saturating_sub(KST_OFFSET_MS)
}

/// A calendar date (proleptic Gregorian).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

/// The date of a day counted from 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub const fn date_of_day(day: u32) -> Date {
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    Date {
        year: y as i32,
        month: m as u32,
        day: d as u32,
    }
}

/// The day a calendar date is, counted from 1970-01-01 (Howard Hinnant's
/// `days_from_civil`): the inverse of [`date_of_day`], for dates from 1970 on.
pub const fn day_of_date(year: u32, month: u32, day: u32) -> u32 {
    let y = if month <= 2 { year - 1 } else { year } as i64;
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as u32
}

/// The KST month of an instant, as one number: `year * 12 + month - 1`, so that
/// consecutive months are consecutive numbers.
pub const fn kst_month(at_ms: u64) -> u32 {
    let date = date_of_day(kst_day(at_ms));
    date.year as u32 * 12 + date.month - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_and_its_date_are_inverse() {
        for day in [0, 59, 60, 365, 11_016, 20_423, 20_788, 40_000] {
            let d = date_of_day(day);
            assert_eq!(day_of_date(d.year as u32, d.month, d.day), day, "{d:?}");
        }
    }

    /// 2026-12-01 00:00:00 UTC.
    const DEC_1_UTC_MS: u64 = 1_796_083_200_000;

    #[test]
    fn a_kst_day_starts_at_midnight_in_seoul_which_is_15_00_utc_the_day_before() {
        let dec_1 = kst_day(DEC_1_UTC_MS);
        assert_eq!(
            date_of_day(dec_1),
            Date {
                year: 2026,
                month: 12,
                day: 1
            }
        );
        // 15:00 UTC on 1 December is midnight of 2 December in Seoul.
        let three_pm = DEC_1_UTC_MS + 15 * 3_600_000;
        assert_eq!(kst_day(three_pm - 1), dec_1);
        assert_eq!(kst_day(three_pm), dec_1 + 1);
        assert_eq!(kst_day_start_ms(dec_1 + 1), three_pm);
    }

    #[test]
    fn a_kst_month_changes_at_midnight_kst_on_the_first() {
        // 2026-11-30 15:00 UTC is 2026-12-01 00:00 KST.
        let midnight = DEC_1_UTC_MS - 9 * 3_600_000;
        assert_eq!(kst_month(midnight - 1), 2026 * 12 + 10);
        assert_eq!(kst_month(midnight), 2026 * 12 + 11);
        // And the year turns with December.
        let jan_1_kst = kst_day_start_ms(kst_day(DEC_1_UTC_MS) + 31);
        assert_eq!(kst_month(jan_1_kst), 2027 * 12);
        assert_eq!(
            date_of_day(kst_day(jan_1_kst)),
            Date {
                year: 2027,
                month: 1,
                day: 1
            }
        );
    }

    #[test]
    fn dates_of_days_agree_with_known_dates() {
        assert_eq!(
            date_of_day(0),
            Date {
                year: 1970,
                month: 1,
                day: 1
            }
        );
        // 2024-02-29, a leap day: 19,782 days after the epoch.
        assert_eq!(
            date_of_day(19_782),
            Date {
                year: 2024,
                month: 2,
                day: 29
            }
        );
    }
}
