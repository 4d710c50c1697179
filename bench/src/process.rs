//! The benchmark process's own memory, from `/proc/self/status` (Linux).

/// A `kB` field of `/proc/self/status` (`VmRSS:`, `RssAnon:`, `VmHWM:`, ...), in bytes.
pub fn status_bytes(field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| format!("no {field} in /proc/self/status"))
}
