//! Durations as the desired-state format writes them: one or more of a number followed by
//! a unit (`ms`, `s`, `m`, `h`, `d`), e.g. `120s` or `1h30m`.

use std::time::Duration;

/// Reads a duration such as `90s` or `1h30m`; `None` when the text is not one (the spec
/// validator reports those) or when it overflows.
pub fn parse_duration(text: &str) -> Option<Duration> {
    if !crate::spec::validate::is_duration(text) {
        return None;
    }
    let mut total_milliseconds: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|character: char| !character.is_ascii_digit())
            .unwrap_or(rest.len());
        let (number, after_number) = rest.split_at(digits_end);
        let unit_end = after_number
            .find(|character: char| character.is_ascii_digit())
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(unit_end);
        let amount: u64 = number.parse().ok()?;
        let part = amount.checked_mul(unit_milliseconds(unit)?)?;
        total_milliseconds = total_milliseconds.checked_add(part)?;
        rest = after_unit;
    }
    Some(Duration::from_millis(total_milliseconds))
}

/// A duration in whole seconds, rounded up: a timeout is never made shorter than written.
pub fn duration_seconds(text: &str) -> Option<u64> {
    parse_duration(text)
        .and_then(|duration| u64::try_from(duration.as_millis().div_ceil(1000)).ok())
}

fn unit_milliseconds(unit: &str) -> Option<u64> {
    match unit {
        "ms" => Some(1),
        "s" => Some(1_000),
        "m" => Some(60_000),
        "h" => Some(3_600_000),
        "d" => Some(86_400_000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_is_read() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1_800)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7_200)));
        assert_eq!(parse_duration("1d"), Some(Duration::from_secs(86_400)));
    }

    #[test]
    fn parts_add_up() {
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5_400)));
        assert_eq!(
            parse_duration("1m5s500ms"),
            Some(Duration::from_millis(65_500))
        );
    }

    #[test]
    fn malformed_or_overflowing_text_is_none() {
        for text in [
            "",
            "30",
            "30 min",
            "1.5h",
            "h",
            "-1s",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(text), None, "{text}");
        }
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(duration_seconds("120s"), Some(120));
        assert_eq!(duration_seconds("1500ms"), Some(2));
        assert_eq!(duration_seconds("1ms"), Some(1));
        assert_eq!(duration_seconds("0s"), Some(0));
    }
}
