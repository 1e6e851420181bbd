//! Parsers for command-line values: byte counts, probabilities, durations,
//! and bit rates. Each returns a message that names what was wrong.

use core::time::Duration;

/// Splits a number from a suffix: "10k" -> (10.0, "k").
fn split(s: &str) -> Result<(f64, String), String> {
    let s = s.trim();
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, suffix) = s.split_at(end);
    let n: f64 = num.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if !n.is_finite() {
        return Err(format!("'{s}' is not a finite number"));
    }
    Ok((n, suffix.trim().to_ascii_lowercase()))
}

/// A byte count with an optional k/M/G suffix (powers of 1024): "64k", "3M".
pub fn bytes(s: &str) -> Result<u64, String> {
    let (n, suffix) = split(s)?;
    let mult: f64 = match suffix.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("unknown suffix '{suffix}' (use k, M or G)")),
    };
    let v = n * mult;
    if v > 64.0 * 1024.0 * 1024.0 * 1024.0 {
        return Err("more than 64 GiB".into());
    }
    Ok(v as u64)
}

/// A probability: "0.01" or "1%".
pub fn probability(s: &str) -> Result<f64, String> {
    let (n, suffix) = split(s)?;
    let p = match suffix.as_str() {
        "" => n,
        "%" => n / 100.0,
        _ => return Err(format!("'{s}' is not a probability (use 0.01 or 1%)")),
    };
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("'{s}' is not between 0 and 1"));
    }
    Ok(p)
}

/// Milliseconds, possibly fractional: "10", "0.5".
pub fn millis(s: &str) -> Result<Duration, String> {
    let (n, suffix) = split(s)?;
    if !(suffix.is_empty() || suffix == "ms") {
        return Err(format!("'{s}' is not a number of milliseconds"));
    }
    if n > 3_600_000.0 {
        return Err("more than an hour".into());
    }
    Ok(Duration::from_secs_f64(n / 1000.0))
}

/// A bit rate with an optional k/M/G suffix (powers of 1000), "bit/s" or
/// "bps" optional: "10M", "1Gbit", "500kbps". Returns bits per second.
pub fn rate(s: &str) -> Result<u64, String> {
    let (n, suffix) = split(s)?;
    let unit = suffix.trim_end_matches("bit/s").trim_end_matches("bps").trim_end_matches("bit");
    let mult = match unit {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        _ => return Err(format!("unknown rate suffix in '{s}' (use k, M or G, e.g. 10M)")),
    };
    let v = n * mult;
    if v < 1000.0 {
        return Err(format!("'{s}' is below 1 kbit/s"));
    }
    Ok(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_suffixes() {
        assert_eq!(bytes("64k"), Ok(65536));
        assert_eq!(bytes("3M"), Ok(3 << 20));
        assert_eq!(bytes("100"), Ok(100));
        assert_eq!(probability("1%"), Ok(0.01));
        assert_eq!(probability("0.25"), Ok(0.25));
        assert_eq!(millis("10"), Ok(Duration::from_millis(10)));
        assert_eq!(rate("10M"), Ok(10_000_000));
        assert_eq!(rate("1Gbit"), Ok(1_000_000_000));
    }

    #[test]
    fn rejects_bad_values() {
        assert!(bytes("ten").is_err());
        assert!(bytes("5q").is_err());
        assert!(probability("1.5").is_err());
        assert!(probability("-1").is_err());
        assert!(millis("abc").is_err());
        assert!(rate("fast").is_err());
        assert!(rate("10").is_err());
    }
}
