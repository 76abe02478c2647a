//! The log's timestamps, as `tracing-subscriber` prints them (`2026-12-07T06:00:54.582745Z`), with
//! the date and time of day worked out once a second per thread rather than for every line: a
//! stored image's 304 is a few tens of thousands of instructions, and the calendar arithmetic and
//! its formatting were a twentieth of them.

use std::cell::RefCell;
use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

pub struct Clock;

thread_local! {
    /// The second last printed on this thread and its text up to the decimal point.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl FormatTime for Clock {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secs = now.as_secs();
        SECOND.with_borrow_mut(|(second, text)| {
            if *second != secs {
                text.clear();
                write_second(text, secs)?;
                *second = secs;
            }
            w.write_str(text)
        })?;
        write!(w, ".{:06}Z", now.subsec_micros())
    }
}

/// `secs` after the Unix epoch as `YYYY-MM-DDTHH:MM:SS`, in UTC.
fn write_second(out: &mut String, secs: u64) -> fmt::Result {
    let (days, in_day) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`): 400
/// years are 146,097 days, and a year counted from March puts the leap day last.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(secs: u64) -> String {
        let mut text = String::new();
        write_second(&mut text, secs).unwrap();
        text
    }

    #[test]
    fn seconds_print_as_rfc_3339_in_utc() {
        assert_eq!(second(0), "1970-01-01T00:00:00");
        assert_eq!(second(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(second(951_868_799), "2000-02-29T23:59:59");
        assert_eq!(second(1_709_251_199), "2024-02-29T23:59:59");
        assert_eq!(second(1_796_616_054), "2026-12-07T04:00:54");
        assert_eq!(second(4_107_542_400), "2100-03-01T00:00:00");
        // Every day of four centuries, against the date HTTP prints for the same second.
        for day in (0..146_097u64).step_by(7) {
            let secs = day * 86_400 + 45_296;
            let http = httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(secs));
            let parsed = httpdate::parse_http_date(&http).unwrap();
            assert_eq!(parsed.duration_since(UNIX_EPOCH).unwrap().as_secs(), secs);
            let ours = second(secs);
            let (year, month, dom) = (&ours[0..4], &ours[5..7], &ours[8..10]);
            let months = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            let expected = format!(
                "{dom} {} {year} 12:34:56",
                months[month.parse::<usize>().unwrap() - 1]
            );
            assert!(http.contains(&expected), "{http} vs {ours}");
        }
    }

    #[test]
    fn a_line_stamps_as_tracing_subscriber_does() {
        let (mut ours, mut theirs) = (String::new(), String::new());
        Clock.format_time(&mut Writer::new(&mut ours)).unwrap();
        tracing_subscriber::fmt::time::SystemTime
            .format_time(&mut Writer::new(&mut theirs))
            .unwrap();
        assert_eq!(ours.len(), theirs.len(), "{ours} vs {theirs}");
        // The same second (or the next, at a boundary), the same shape.
        assert_eq!(ours.as_bytes()[19], b'.');
        assert!(ours.ends_with('Z') && theirs.ends_with('Z'));
        assert!(ours[..16] == theirs[..16], "{ours} vs {theirs}");
    }
}
