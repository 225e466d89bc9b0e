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

/// Signed variant of [`thousands`].
pub fn thousands_i(n: i64) -> String {
    if n < 0 {
        format!("-{}", thousands(n.unsigned_abs()))
    } else {
        thousands(n as u64)
    }
}

const BINARY: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
const DECIMAL: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];

fn scaled(bytes: u64, base: f64, names: &[&str; 6]) -> String {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= base && unit + 1 < names.len() {
        value /= base;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", names[unit])
    }
}

/// Bytes in the largest binary unit that keeps the value ≥ 1: `67125248` → `"64.02 MiB"`.
pub fn binary(bytes: u64) -> String {
    scaled(bytes, 1024.0, &BINARY)
}

/// Bytes in the largest decimal unit that keeps the value ≥ 1: `67125248` → `"67.13 MB"`.
pub fn decimal(bytes: u64) -> String {
    scaled(bytes, 1000.0, &DECIMAL)
}

/// Bytes in MiB (2^20), whatever the size, for columns that must line up.
pub fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// Bytes in MB (10^6), whatever the size: the unit torchinfo prints.
pub fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

/// A count with an SI suffix for multiply-adds and the like: `15_480_000_000` → `"15.48 G"`.
pub fn si(n: u64) -> String {
    const NAMES: [&str; 5] = ["", "k", "M", "G", "T"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < NAMES.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        n.to_string()
    } else {
        format!("{value:.2} {}", NAMES[unit])
    }
}

/// Parses a byte size such as `24GiB`, `24 GB`, `512MiB`, `1e9` or `1024`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a size (examples: 24GiB, 16GB, 512MiB)"))?;
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
        assert_eq!(thousands_i(-4096), "-4,096");
    }

    #[test]
    fn binary_and_decimal_units_are_not_confused() {
        assert_eq!(binary(67_125_248), "64.02 MiB");
        assert_eq!(decimal(67_125_248), "67.13 MB");
        assert_eq!(mib(201_375_744), "192.05 MiB");
        assert_eq!(mb(553_430_176), "553.43 MB");
        assert_eq!(binary(1023), "1023 B");
        assert_eq!(binary(1024), "1.00 KiB");
        assert_eq!(binary(3 << 30), "3.00 GiB");
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
    }
}
