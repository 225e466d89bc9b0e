//! Formatting of counts and byte sizes.
//!
//! Every formatter names the unit it actually computed: binary units (KiB, MiB, GiB: powers of 2^10)
//! and decimal units (KB, MB, GB: powers of 10^3) are never mixed up.

/// `16781312` → `"16,781,312"`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

const BINARY: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
const DECIMAL: [&str; 7] = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];

/// `value` with two decimals in the largest unit that keeps it ≥ 1. The step up is decided on the
/// rounded value, so 1,048,575 bytes read `1.00 MiB`, never `1024.00 KiB`. Units reach u64::MAX
/// (16 EiB, 18.4 EB, 18.4 E), so no figure grows past three digits before the point.
fn scaled(n: u64, base: f64, names: &[&str], sep: &str) -> String {
    let rounded = |v: f64| (v * 100.0).round() / 100.0;
    let mut value = n as f64;
    let mut unit = 0;
    while unit + 1 < names.len() && (if unit == 0 { value } else { rounded(value) }) >= base {
        value /= base;
        unit += 1;
    }
    if unit == 0 {
        format!("{n}{sep}{}", names[0])
    } else {
        format!("{value:.2} {}", names[unit])
    }
}

/// Bytes in the largest binary unit that keeps the value ≥ 1: `67125248` → `"64.02 MiB"`.
pub fn binary(bytes: u64) -> String {
    scaled(bytes, 1024.0, &BINARY, " ")
}

/// Bytes in the largest decimal unit that keeps the value ≥ 1: `67125248` → `"67.13 MB"`.
pub fn decimal(bytes: u64) -> String {
    scaled(bytes, 1000.0, &DECIMAL, " ")
}

/// Bytes in both kinds of unit, for a figure quoted in prose: `"22.35 GiB (24.00 GB)"`.
pub fn both(bytes: u64) -> String {
    format!("{} ({})", binary(bytes), decimal(bytes))
}

/// A count with an SI suffix for multiply-adds and the like: `15_480_000_000` → `"15.48 G"`.
pub fn si(n: u64) -> String {
    scaled(n, 1000.0, &["", "k", "M", "G", "T", "P", "E"], "")
}

/// Parses a byte size such as `24GiB`, `24 GB`, `512MiB`, `1e9` or `1024`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    // The longest prefix that reads as a number, so the `e` of `1e9` is an exponent, not a unit.
    let numeric = t
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')))
        .unwrap_or(t.len());
    let (number, unit) = (1..=numeric)
        .rev()
        .find_map(|end| t[..end].parse::<f64>().ok().map(|n| (n, &t[end..])))
        .ok_or_else(|| format!("'{text}' is not a size (examples: 24GiB, 16GB, 512MiB, 1e9)"))?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kib" => 1024.0,
        "mib" => 1024f64.powi(2),
        "gib" => 1024f64.powi(3),
        "tib" => 1024f64.powi(4),
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "tb" | "t" => 1e12,
        other => {
            return Err(format!(
                "unknown size unit '{other}' in '{text}' (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)"
            ));
        }
    };
    let bytes = number * factor;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!("'{text}' is not a usable size"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(16_781_312), "16,781,312");
        assert_eq!(thousands(138_357_544), "138,357,544");
    }

    #[test]
    fn binary_and_decimal_units_are_not_confused() {
        assert_eq!(binary(67_125_248), "64.02 MiB");
        assert_eq!(decimal(67_125_248), "67.13 MB");
        assert_eq!(binary(201_375_744), "192.05 MiB");
        assert_eq!(decimal(553_430_176), "553.43 MB");
        assert_eq!(binary(1023), "1023 B");
        assert_eq!(binary(1024), "1.00 KiB");
        assert_eq!(binary(3 << 30), "3.00 GiB");
        assert_eq!(both(24_000_000_000), "22.35 GiB (24.00 GB)");
    }

    #[test]
    fn rounding_steps_up_at_the_unit_boundary() {
        assert_eq!(binary(1_048_575), "1.00 MiB");
        assert_eq!(binary(1_048_570), "1023.99 KiB");
        assert_eq!(binary((1 << 30) - 1), "1.00 GiB");
        assert_eq!(decimal(999_999), "1.00 MB");
        assert_eq!(decimal(999), "999 B");
        assert_eq!(si(999_999), "1.00 M");
        assert_eq!(si(999_994), "999.99 k");
        assert_eq!(si(999_999_999_999), "1.00 T");
        // The largest u64 still fits a unit with three digits or fewer before the point.
        assert_eq!(binary(u64::MAX), "16.00 EiB");
        assert_eq!(decimal(u64::MAX), "18.45 EB");
        assert_eq!(si(u64::MAX), "18.45 E");
    }

    #[test]
    fn si_counts() {
        assert_eq!(si(999), "999");
        assert_eq!(si(15_483_862_016), "15.48 G");
    }

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_bytes("24GiB").unwrap(), 24 << 30);
        assert_eq!(parse_bytes("16 GB").unwrap(), 16_000_000_000);
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("5 parsecs").is_err());
        assert!(parse_bytes("-3GB").is_err());
        assert_eq!(parse_bytes("1e9").unwrap(), 1_000_000_000);
        assert_eq!(parse_bytes("1.5e3 MiB").unwrap(), 1500 << 20);
        assert_eq!(parse_bytes("2E3kb").unwrap(), 2_000_000);
        assert_eq!(parse_bytes(" 16 GB ").unwrap(), 16_000_000_000);
        assert!(parse_bytes("1e").is_err());
        assert!(parse_bytes("e9").is_err());
        assert!(parse_bytes("1eB").is_err());
        assert!(parse_bytes("inf").is_err());
    }
}
