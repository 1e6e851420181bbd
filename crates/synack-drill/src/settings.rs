//! What a script configures: runner options (`--name=value`), the stack's
//! configuration (`// synack: KEY=VALUE`), and Linux sysctls in backtick
//! lines mapped onto synack's configuration.

use core::net::IpAddr;
use core::time::Duration;
use synack_core::{Config, CongestionControl, SynCookies};

/// Which addresses a script uses (`--ip_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpVersion {
    /// IPv4 sockets and packets.
    V4,
    /// IPv6 sockets and packets.
    V6,
    /// IPv6 sockets with IPv4-mapped addresses, IPv4 packets.
    Mapped,
}

/// The runner's settings for one script.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--tolerance_usecs`: how far a packet or a return may be from its time.
    pub tolerance: Duration,
    /// `--tolerance_percent`: the tolerance as a share of the scripted gap (when larger).
    pub tolerance_percent: f64,
    /// `--ip_version`.
    pub ip: IpVersion,
    /// The stack's address on the wire.
    pub local_ip: IpAddr,
    /// The scripted peer's address on the wire.
    pub remote_ip: IpAddr,
    /// `--mtu`: the device's MTU (1500, or 1520 for IPv6, so that MSS is 1460 in both).
    pub mtu: u16,
    /// `--mss`: inbound segments larger than this go in as super-segments of it.
    pub mss: Option<u16>,
    /// `--strict_segments`: no aggregation of outbound segments.
    pub strict_segments: bool,
    /// `--tcp_ts_tick_usecs`: later outbound TS vals are checked, in these ticks.
    pub ts_tick: Option<Duration>,
    /// `--tcp_ts_ecr_scaled`: inbound ecrs not mapped are shifted by the TS offset.
    pub ts_ecr_scaled: bool,
    /// synack's configuration (the synack engine): defaults and `// synack:` headers.
    pub config: Config,
}

impl Settings {
    /// DRILL.md's defaults, with `tolerance` as the default tolerance.
    pub fn new(tolerance: Duration) -> Self {
        let (local_ip, remote_ip) = default_ips(IpVersion::V4);
        Settings {
            tolerance,
            tolerance_percent: 12.5,
            ip: IpVersion::V4,
            local_ip,
            remote_ip,
            mtu: 1500,
            mss: None,
            strict_segments: false,
            ts_tick: None,
            ts_ecr_scaled: false,
            // Linux paces Reno and CUBIC only under the fq qdisc, which
            // the kernel engine's namespace does not have; that namespace
            // runs reno (hosts may not allow cubic in new namespaces), and
            // scripts that want CUBIC say tcp_congestion_control=cubic.
            config: Config { pacing: false, congestion_control: CongestionControl::NewReno, ..Config::default() },
        }
    }

    /// Switches to another address family, with its defaults.
    pub fn set_ip_version(&mut self, v: IpVersion) {
        self.ip = v;
        (self.local_ip, self.remote_ip) = default_ips(v);
        self.mtu = if v == IpVersion::V6 { 1520 } else { 1500 };
    }
}

/// The default addresses of DRILL.md: the stack is "local", the script the
/// "remote" peer. (Mapped sockets use these IPv4 addresses on the wire.)
pub fn default_ips(v: IpVersion) -> (IpAddr, IpAddr) {
    match v {
        IpVersion::V4 | IpVersion::Mapped => {
            ("192.168.0.1".parse().expect("literal"), "192.0.2.1".parse().expect("literal"))
        }
        IpVersion::V6 => ("fd3d:a0b:17d6::1".parse().expect("literal"), "fd3d:fa7b:d17d::1".parse().expect("literal")),
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

/// A runner option, `--name=value`, spelled as packetdrill spells it.
pub fn apply_option(s: &mut Settings, name: &str, value: &str) -> Applied {
    result((|| {
        match name {
            "tolerance_usecs" => s.tolerance = Duration::from_micros(num(name, value)?),
            "tolerance_percent" => s.tolerance_percent = num(name, value)?,
            "tolerance_ms" => s.tolerance = Duration::from_millis(num(name, value)?),
            "mss" => s.mss = Some(num(name, value)?),
            "mtu" => s.mtu = num(name, value)?,
            "ip_version" => s.set_ip_version(match value.trim() {
                "ipv4" | "4" => IpVersion::V4,
                "ipv6" | "6" => IpVersion::V6,
                "ipv4-mapped-ipv6" | "ipv4_mapped_ipv6" => IpVersion::Mapped,
                other => return Err(Applied::Invalid(format!("--ip_version={other}"))),
            }),
            "local_ip" => s.local_ip = value.parse().map_err(|_| Applied::Invalid(format!("--local_ip={value}")))?,
            "remote_ip" => s.remote_ip = value.parse().map_err(|_| Applied::Invalid(format!("--remote_ip={value}")))?,
            "strict_segments" => s.strict_segments = value.is_empty() || boolean(name, value)?,
            "tcp_ts_tick_usecs" => {
                let us: u64 = num(name, value)?;
                s.ts_tick = (us > 0).then(|| Duration::from_micros(us));
            }
            "tcp_ts_ecr_scaled" => s.ts_ecr_scaled = value.is_empty() || boolean(name, value)?,
            // packetdrill's options that change nothing here.
            "verbose" | "dry_run" | "non_fatal" | "bind_port" | "connect_port" | "speed" | "gateway_ip"
            | "netmask_ip" | "init_scripts" | "wire_client" | "wire_server" | "so_filename" | "define"
            | "send_omit_free" | "persistent_tun_dev" | "debug" => {
                return Err(Applied::Warn(format!("option --{name} has no effect here")))
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
            "slow_start_after_idle" => c.slow_start_after_idle = boolean(key, v)?,
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
    // tcp_rmem / tcp_wmem: "min default max".
    let nth_of_three = |v: &str, n: usize| -> Result<usize, Applied> {
        let words: Vec<&str> = v.split_whitespace().collect();
        let word =
            words.get(n.min(words.len().saturating_sub(1))).ok_or_else(|| Applied::Invalid(format!("{key}: empty")))?;
        word.parse().map_err(|_| Applied::Invalid(format!("{key}: '{v}'")))
    };
    result((|| {
        match key {
            "tcp_timestamps" => c.timestamps = num::<u32>(key, v)? != 0,
            "tcp_sack" => c.sack = boolean(key, v)?,
            "tcp_window_scaling" => c.window_scaling = boolean(key, v)?,
            "tcp_syn_retries" => c.syn_retries = num(key, v)?,
            "tcp_synack_retries" => c.synack_retries = num(key, v)?,
            "tcp_retries2" => c.retries2 = num(key, v)?,
            "tcp_rmem" => {
                c.recv_buffer = nth_of_three(v, 2)?;
                c.recv_buffer_initial = nth_of_three(v, 1)?;
            }
            "tcp_wmem" => c.send_buffer = nth_of_three(v, 2)?,
            "tcp_moderate_rcvbuf" => c.recv_autotuning = boolean(key, v)?,
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
            "tcp_slow_start_after_idle" => c.slow_start_after_idle = boolean(key, v)?,
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
            "tcp_syn_linear_timeouts" => {
                if num::<u32>(key, v)? != 0 {
                    return Err(Applied::Unsupported(
                        "synack backs off every SYN retransmission (RFC 6298 §5.5 MUST, RFC 9293 §3.8.2)".into(),
                    ));
                }
            }
            "tcp_dsack" => c.dsack = boolean(key, v)?,
            // Linux removed FACK in 4.15; 0 is its only behaviour and ours.
            "tcp_fack" if num::<u32>(key, v)? == 0 => {}
            // RFC 5681 §3.2's duplicate-ACK threshold, synack's fixed value.
            "tcp_reordering" if num::<u32>(key, v)? == 3 => {}
            "tcp_reordering" => {
                return Err(Applied::Unsupported(
                    "synack's duplicate-ACK threshold is fixed at 3 (RFC 5681 §3.2)".into(),
                ))
            }
            // Linux: 3 and 4 turn tail loss probes (RFC 8985 §7) on, 0-2 off.
            "tcp_early_retrans" => c.tail_loss_probe = matches!(num::<u32>(key, v)?, 3 | 4),
            // Linux's bit 0 (TCP_RACK_LOSS_DETECTION) turns RACK on.
            "tcp_recovery" => c.rack = num::<u32>(key, v)? & 1 != 0,
            // Linux: 0 off; 1 and 2 (the default) on (RFC 5682; its 2 is the
            // SACK-enhanced version where SACK is in use, as here).
            "tcp_frto" => c.frto = num::<u32>(key, v)? != 0,
            "tcp_tso_win_divisor" => c.tso_win_divisor = num(key, v)?,
            "tcp_min_rtt_wlen" | "tcp_abort_on_overflow" => {
                return Err(Applied::Warn(format!("{key} has no effect on synack")))
            }
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
        assert_eq!((c.recv_buffer, c.recv_buffer_initial), (1_000_000, 87380));
        assert_eq!(apply_sysctl(&mut c, "net.ipv4.tcp_moderate_rcvbuf", "0"), Applied::Ok);
        assert!(!c.recv_autotuning);
        assert_eq!(apply_sysctl(&mut c, "net.ipv4.tcp_tso_win_divisor", "0"), Applied::Ok);
        assert_eq!(c.tso_win_divisor, 0);
        assert_eq!(apply_sysctl(&mut c, "net.ipv4.tcp_congestion_control", "cubic"), Applied::Ok);
        assert_eq!(c.congestion_control, CongestionControl::Cubic);
        assert!(matches!(apply_sysctl(&mut c, "net.ipv4.tcp_congestion_control", "bbr"), Applied::Unsupported(_)));
        assert_eq!(apply_sysctl(&mut c, "net.ipv4.tcp_dsack", "0"), Applied::Ok);
        assert!(!c.dsack);
        assert_eq!(apply_sysctl(&mut c, "net.ipv4.tcp_reordering", "3"), Applied::Ok);
        assert!(matches!(apply_sysctl(&mut c, "net.ipv4.tcp_reordering", "10"), Applied::Unsupported(_)));
        assert_eq!(apply_sysctl(&mut c, "net.ipv4.tcp_fack", "0"), Applied::Ok);
        assert!(matches!(apply_sysctl(&mut c, "net.ipv4.tcp_fack", "1"), Applied::Warn(_)));
        assert_eq!(apply_sysctl(&mut c, "net.ipv4.tcp_early_retrans", "0"), Applied::Ok);
        assert!(!c.tail_loss_probe);
        assert_eq!(apply_sysctl(&mut c, "net.ipv4.tcp_early_retrans", "3"), Applied::Ok);
        assert!(c.tail_loss_probe);
        assert_eq!(apply_sysctl(&mut c, "net.ipv4.tcp_recovery", "0"), Applied::Ok);
        assert!(!c.rack);
        assert_eq!(apply_sysctl(&mut c, "net.ipv4.tcp_recovery", "1"), Applied::Ok);
        assert!(c.rack);
        assert_eq!(apply_sysctl(&mut c, "net.ipv4.tcp_frto", "0"), Applied::Ok);
        assert!(!c.frto);
        assert_eq!(apply_sysctl(&mut c, "net.ipv4.tcp_frto", "2"), Applied::Ok);
        assert!(c.frto);
        let pairs = sysctls_in("sysctl -q net.ipv4.a=1 'net.ipv4.b=2 3' net.ipv4.c=\"4 5 6\"");
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[1], ("net.ipv4.b".to_string(), "2 3".to_string()));
        assert_eq!(pairs[2].1, "4 5 6");
    }
}
