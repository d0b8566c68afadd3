//! What the run cost: a process's CPU time and memory from /proc, the machine's busy time from
//! /proc/stat, and Redis's memory from `redis-cli info memory`.

use std::process::Command;

/// A process's CPU time so far, in clock ticks (utime + stime of /proc/PID/stat).
pub fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|error| format!("{path}: {error}"))?;
    parse_cpu_ticks(&stat).ok_or_else(|| format!("{path}: no utime and stime in it"))
}

/// utime and stime are fields 14 and 15; the command name (field 2) is in parentheses and may
/// hold spaces, so fields are counted from the last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // fields[0] is field 3 (state).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A process's memory, in bytes: resident now (VmRSS) and at its peak (VmHWM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    pub rss: u64,
    pub peak_rss: u64,
}

pub fn memory(pid: u32) -> Result<Memory, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|error| format!("{path}: {error}"))?;
    parse_memory(&status).ok_or_else(|| format!("{path}: no VmRSS and VmHWM in it"))
}

fn parse_memory(status: &str) -> Option<Memory> {
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|number| number.trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    Some(Memory {
        rss: kib("VmRSS:")?,
        peak_rss: kib("VmHWM:")?,
    })
}

/// The machine's CPU time so far over all cores, in clock ticks: (busy, total).
pub fn machine_ticks() -> Result<(u64, u64), String> {
    let stat = std::fs::read_to_string("/proc/stat").map_err(|e| format!("/proc/stat: {e}"))?;
    parse_machine_ticks(&stat).ok_or_else(|| "/proc/stat: no cpu line".to_owned())
}

/// `cpu user nice system idle iowait irq softirq steal …`: idle and iowait are not busy.
fn parse_machine_ticks(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let total: u64 = ticks.iter().sum();
    let idle = ticks.get(3)? + ticks.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

/// Clock ticks per second, the unit of /proc's CPU times (`getconf CLK_TCK`; 100 on Linux
/// whatever the kernel's HZ).
pub fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

/// The process count of online cores, to say how many the machine shares.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Redis's own account of its memory, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisMemory {
    pub used: u64,
    pub peak: u64,
    pub rss: u64,
}

/// `redis-cli -p PORT info memory`.
pub fn redis_memory(port: u16) -> Result<RedisMemory, String> {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "info", "memory"])
        .output()
        .map_err(|error| format!("redis-cli: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "redis-cli info memory failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    parse_redis_memory(&text).ok_or_else(|| format!("redis-cli info memory said: {text}"))
}

fn parse_redis_memory(info: &str) -> Option<RedisMemory> {
    let field = |key: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|value| value.trim().parse::<u64>().ok())
    };
    Some(RedisMemory {
        used: field("used_memory")?,
        peak: field("used_memory_peak")?,
        rss: field("used_memory_rss")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_a_command_name_with_spaces_and_parentheses() {
        let stat = "42 (tokio (rt) 1) S 1 42 42 0 -1 4194560 500 0 0 0 \
                    1234 567 0 0 20 0 3 0 100 200000 300 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat), Some(1_801));
        assert_eq!(parse_cpu_ticks("42 (x) S 1"), None);
    }

    #[test]
    fn memory_is_read_in_bytes_from_vmrss_and_vmhwm() {
        let status = "Name:\tjobsocket-serve\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        let memory = parse_memory(status).expect("memory");
        assert_eq!(memory.rss, 10_485_760);
        assert_eq!(memory.peak_rss, 20_971_520);
        assert_eq!(parse_memory("Name:\tx\n"), None);
    }

    #[test]
    fn the_machine_is_busy_for_all_but_its_idle_and_iowait_ticks() {
        let stat = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n";
        assert_eq!(parse_machine_ticks(stat), Some((150, 1_000)));
    }

    #[test]
    fn redis_memory_is_read_from_its_info_lines() {
        let info = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n\
                    used_memory_rss:4194304\r\nused_memory_peak:2097152\r\n\
                    used_memory_peak_human:2.00M\r\n";
        let memory = parse_redis_memory(info).expect("memory");
        assert_eq!(
            (memory.used, memory.peak, memory.rss),
            (1_048_576, 2_097_152, 4_194_304)
        );
        assert_eq!(parse_redis_memory("# Memory\r\n"), None);
    }
}
