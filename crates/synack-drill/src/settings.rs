//! What a script configures: runner options (`--name=value`), the stack's
//! configuration (`// synack: KEY=VALUE`), and Linux sysctls in backtick
//! lines mapped onto synack's configuration.

use core::net::IpAddr;
use core::time::Duration;
use synack_core::{Config, CongestionControl, SynCookies};

/// The runner's settings for one script.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How far an outbound packet may be from its scripted time.
    pub tolerance: Duration,
    /// The stack's address.
    pub local_ip: IpAddr,
    /// The scripted peer's address.
    pub remote_ip: IpAddr,
    /// The stack's configuration.
    pub config: Config,
}

/// The default addresses of DRILL.md.
pub fn default_ips(v6: bool) -> (IpAddr, IpAddr) {
    if v6 {
        ("fd3d:fa7b:d17d::1".parse().expect("literal"), "2001:db8::1".parse().expect("literal"))
    } else {
        ("192.168.0.1".parse().expect("literal"), "192.0.2.1".parse().expect("literal"))
    }
}

/// What applying a setting did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Taken into account.
    Ok,
    /// Understood but without effect on synack: a warning.
    Warn(String),
    /// synack cannot behave as asked: the script is skipped.
    Unsupported(String),
    /// A bad value: the script cannot run.
    Invalid(String),
}

fn num<T: core::str::FromStr>(key: &str, v: &str) -> Result<T, Applied> {
    v.trim().parse().map_err(|_| Applied::Invalid(format!("{key}: '{v}' is not a number")))
}

fn boolean(key: &str, v: &str) -> Result<bool, Applied> {
    match v.trim() {
        "0" | "false" => Ok(false),
        "1" | "true" => Ok(true),
        _ => Err(Applied::Invalid(format!("{key}: '{v}' is not 0 or 1"))),
    }
}

fn result(r: Result<(), Applied>) -> Applied {
    r.err().unwrap_or(Applied::Ok)
}

/// A runner option, `--name=value`.
pub fn apply_option(s: &mut Settings, name: &str, value: &str) -> Applied {
    result((|| {
        match name {
            "tolerance_usecs" => s.tolerance = Duration::from_micros(num(name, value)?),
            "tolerance_ms" => s.tolerance = Duration::from_millis(num(name, value)?),
            "mss" => {
                let mss: u16 = num(name, value)?;
                let overhead = if s.local_ip.is_ipv6() { 60 } else { 40 };
                s.config.mtu = mss.checked_add(overhead).ok_or_else(|| Applied::Invalid("mss too large".into()))?;
            }
            "ip_version" => {
                let v6 = match value.trim() {
                    "ipv4" | "4" => false,
                    "ipv6" | "6" => true,
                    other => return Err(Applied::Unsupported(format!("--ip_version={other}"))),
                };
                (s.local_ip, s.remote_ip) = default_ips(v6);
            }
            "local_ip" => s.local_ip = value.parse().map_err(|_| Applied::Invalid(format!("--local_ip={value}")))?,
            "remote_ip" => s.remote_ip = value.parse().map_err(|_| Applied::Invalid(format!("--remote_ip={value}")))?,
            "tcp_ts_tick_usecs" => {
                if num::<u64>(name, value)? != 1000 {
                    return Err(Applied::Unsupported("synack's timestamp clock ticks every 1000 us".into()));
                }
            }
            other => return Err(Applied::Warn(format!("unknown option --{other} ignored"))),
        }
        Ok(())
    })())
}

fn ms(key: &str, v: &str) -> Result<Duration, Applied> {
    Ok(Duration::from_millis(num(key, v)?))
}

/// A `// synack: KEY=VALUE` setting: the stack's configuration directly.
pub fn apply_config(c: &mut Config, key: &str, v: &str) -> Applied {
    result((|| {
        match key {
            "mtu" => c.mtu = num(key, v)?,
            "send_buffer" => c.send_buffer = num(key, v)?,
            "recv_buffer" => c.recv_buffer = num(key, v)?,
            "window_scaling" => c.window_scaling = boolean(key, v)?,
            "timestamps" => c.timestamps = boolean(key, v)?,
            "sack" => c.sack = boolean(key, v)?,
            "initial_cwnd" => c.initial_cwnd_segments = num(key, v)?,
            "initial_rto_ms" => c.initial_rto = ms(key, v)?,
            "min_rto_ms" => c.min_rto = ms(key, v)?,
            "max_rto_ms" => c.max_rto = ms(key, v)?,
            "delayed_ack_ms" => c.delayed_ack = ms(key, v)?,
            "nodelay" => c.nodelay = boolean(key, v)?,
            "syn_retries" => c.syn_retries = num(key, v)?,
            "synack_retries" => c.synack_retries = num(key, v)?,
            "retries2" => c.retries2 = num(key, v)?,
            "time_wait_ms" => c.time_wait = ms(key, v)?,
            "fin_timeout_ms" => c.fin_timeout = ms(key, v)?,
            "keepalive" => c.keepalive = boolean(key, v)?,
            "keepalive_idle_ms" => c.keepalive_idle = ms(key, v)?,
            "keepalive_interval_ms" => c.keepalive_interval = ms(key, v)?,
            "keepalive_count" => c.keepalive_count = num(key, v)?,
            "user_timeout_ms" => c.user_timeout = Some(ms(key, v)?),
            "syn_backlog" => c.syn_backlog = num(key, v)?,
            "hop_limit" => c.hop_limit = num(key, v)?,
            "challenge_ack_limit" => c.challenge_ack_limit = num(key, v)?,
            "congestion_control" => {
                c.congestion_control = CongestionControl::from_name(v)
                    .ok_or_else(|| Applied::Invalid(format!("congestion_control: '{}' (newreno, cubic)", v.trim())))?
            }
            "syn_cookies" => {
                c.syn_cookies = match v.trim() {
                    "off" => SynCookies::Off,
                    "when_queue_full" => SynCookies::WhenQueueFull,
                    "always" => SynCookies::Always,
                    other => {
                        return Err(Applied::Invalid(format!("syn_cookies: '{other}' (off, when_queue_full, always)")))
                    }
                }
            }
            other => return Err(Applied::Invalid(format!("unknown synack setting '{other}'"))),
        }
        Ok(())
    })())
}

/// A Linux sysctl, `net.ipv4.NAME=VALUE`.
pub fn apply_sysctl(c: &mut Config, name: &str, v: &str) -> Applied {
    let key = name.trim_start_matches("net.ipv4.").trim_start_matches("net.core.");
    let secs = |v: &str| -> Result<Duration, Applied> { Ok(Duration::from_secs(num(key, v)?)) };
    let max_of_three = |v: &str| -> Result<usize, Applied> {
        v.split_whitespace()
            .last()
            .ok_or_else(|| Applied::Invalid(format!("{key}: empty")))?
            .parse()
            .map_err(|_| Applied::Invalid(format!("{key}: '{v}'")))
    };
    result((|| {
        match key {
            "tcp_timestamps" => c.timestamps = num::<u32>(key, v)? != 0,
            "tcp_sack" => c.sack = boolean(key, v)?,
            "tcp_window_scaling" => c.window_scaling = boolean(key, v)?,
            "tcp_syn_retries" => c.syn_retries = num(key, v)?,
            "tcp_synack_retries" => c.synack_retries = num(key, v)?,
            "tcp_retries2" => c.retries2 = num(key, v)?,
            "tcp_rmem" => c.recv_buffer = max_of_three(v)?,
            "tcp_wmem" => c.send_buffer = max_of_three(v)?,
            "tcp_fin_timeout" => c.fin_timeout = secs(v)?,
            "tcp_keepalive_time" => c.keepalive_idle = secs(v)?,
            "tcp_keepalive_intvl" => c.keepalive_interval = secs(v)?,
            "tcp_keepalive_probes" => c.keepalive_count = num(key, v)?,
            "tcp_challenge_ack_limit" => c.challenge_ack_limit = num(key, v)?,
            "tcp_invalid_ratelimit" => c.invalid_ack_ratelimit = Duration::from_millis(num(key, v)?),
            "tcp_congestion_control" => {
                c.congestion_control = CongestionControl::from_name(v).ok_or_else(|| {
                    Applied::Unsupported(format!("congestion control '{}': synack has reno and cubic", v.trim()))
                })?
            }
            "tcp_slow_start_after_idle" => {
                if !boolean(key, v)? {
                    return Err(Applied::Unsupported("synack always restarts slow start after idle".into()));
                }
            }
            "tcp_syncookies" => {
                c.syn_cookies = match num::<u32>(key, v)? {
                    0 => SynCookies::Off,
                    1 => SynCookies::WhenQueueFull,
                    _ => SynCookies::Always,
                }
            }
            "tcp_ecn" => {
                if num::<u32>(key, v)? == 1 {
                    return Err(Applied::Unsupported("synack does not negotiate ECN".into()));
                }
            }
            "tcp_mtu_probing" => {
                if num::<u32>(key, v)? != 0 {
                    return Err(Applied::Unsupported("synack does not probe the path MTU".into()));
                }
            }
            "tcp_dsack"
            | "tcp_early_retrans"
            | "tcp_recovery"
            | "tcp_reordering"
            | "tcp_min_rtt_wlen"
            | "tcp_abort_on_overflow" => return Err(Applied::Warn(format!("{key} has no effect on synack"))),
            other => return Err(Applied::Warn(format!("sysctl {other} ignored"))),
        }
        Ok(())
    })())
}

/// Splits a shell command into words as `sh` would for simple commands:
/// whitespace separates, single and double quotes group (and are removed).
pub fn shell_words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for ch in command.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(ch);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Extracts `name=value` pairs from a shell command containing `sysctl`
/// invocations (`sysctl -q net.ipv4.tcp_sack=0 net.ipv4.tcp_dsack=1; sysctl -q ...`).
pub fn sysctls_in(command: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in command.split([';', '\n']).flat_map(|p| p.split("&&")) {
        let words = shell_words(part);
        if words.first().is_some_and(|w| w.ends_with("sysctl")) {
            for w in words[1..].iter().filter(|w| !w.starts_with('-')) {
                if let Some((k, v)) = w.split_once('=') {
                    out.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_lines_map_onto_the_config() {
        let mut c = Config::default();
        for (k, v) in sysctls_in("sysctl -q net.ipv4.tcp_sack=0; sysctl -q net.ipv4.tcp_rmem=\"4096 87380 1000000\"") {
            assert_eq!(apply_sysctl(&mut c, &k, &v), Applied::Ok);
        }
        assert!(!c.sack);
        assert_eq!(c.recv_buffer, 1_000_000);
        assert_eq!(apply_sysctl(&mut c, "net.ipv4.tcp_congestion_control", "cubic"), Applied::Ok);
        assert_eq!(c.congestion_control, CongestionControl::Cubic);
        assert!(matches!(apply_sysctl(&mut c, "net.ipv4.tcp_congestion_control", "bbr"), Applied::Unsupported(_)));
        assert!(matches!(apply_sysctl(&mut c, "net.ipv4.tcp_dsack", "1"), Applied::Warn(_)));
        let pairs = sysctls_in("sysctl -q net.ipv4.a=1 'net.ipv4.b=2 3' net.ipv4.c=\"4 5 6\"");
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[1], ("net.ipv4.b".to_string(), "2 3".to_string()));
        assert_eq!(pairs[2].1, "4 5 6");
    }
}
