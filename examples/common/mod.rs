//! Helpers the chapter examples share: digit grouping and the process's own counters
//! from `/proc/self/status` for printing what they measured, and `yield_now` (in
//! `yield_now.rs`). Not a lesson of any chapter; each example's own file is the
//! chapter.

// Each example uses only some of these.
#![allow(dead_code)]

pub mod yield_now;

/// 800000 -> "800,000".
pub fn thousands(n: impl std::fmt::Display) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// KiB (as `/proc/self/status` counts) to MiB.
pub fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A number from `/proc/self/status` (`Threads:` is a count, `Vm*:` are in KiB), or
/// `None` where there is no `/proc` (not Linux).
pub fn process_status(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
