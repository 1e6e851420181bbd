//! The synack engine: a fresh synack-core endpoint in virtual time. The
//! clock moves only as the runner asks, running the endpoint's timers on
//! the way; a blocked call is tried again after every step. The endpoint
//! sends through `poll_transmit_offload` as on a TUN device with offloads,
//! and its super-segments are cut at their segment size, as the kernel
//! does, before the runner sees them (DRILL.md, "The device under the stack").

use crate::ast::SyscallSpec;
use crate::settings::{self, Applied, Settings};
use crate::sockets::{Progress, Sock};
use crate::target::{Attempt, Sent, Target, TcpInfo};
use core::time::Duration;
use std::collections::{HashMap, VecDeque};
use synack_core::{ConnHandle, Endpoint, Instant, Received, State};

/// Script time 0 on the endpoint's clock.
const T0: u64 = 1_000_000;
/// The secret of every run: runs replay exactly.
const SECRET: u128 = 0x5eed;

/// A blocked call and its progress.
struct Blocked {
    spec: SyscallSpec,
    progress: Progress,
}

/// synack-core under a script.
pub struct SynackTarget {
    pub(crate) ep: Endpoint,
    pub(crate) settings: Settings,
    pub(crate) now: Instant,
    pub(crate) socks: HashMap<i64, Sock>,
    /// The script's epoll instances, by descriptor.
    pub(crate) epolls: HashMap<i64, crate::epoll::EpollSet>,
    /// The connection under test: the most recent one created by connect or accept.
    pub(crate) current: Option<ConnHandle>,
    sent: VecDeque<Sent>,
    blocked: Option<Blocked>,
    returned: Option<(Duration, Attempt)>,
    buf: Vec<u8>,
    piece: Vec<u8>,
}

impl SynackTarget {
    /// An endpoint for a script with these settings (an invalid
    /// configuration is an error, with its reason).
    pub fn new(settings: &Settings) -> Result<Self, String> {
        let mut cfg = settings.config.clone();
        cfg.mtu = settings.mtu;
        cfg.offload = synack_core::Offload { segmentation: true, checksum: false };
        let ep = Endpoint::new(cfg, SECRET).map_err(|e| format!("configuration: {e}"))?;
        Ok(SynackTarget {
            ep,
            settings: settings.clone(),
            now: Instant::from_micros(T0),
            socks: HashMap::new(),
            epolls: HashMap::new(),
            current: None,
            sent: VecDeque::new(),
            blocked: None,
            returned: None,
            buf: vec![0; 65_536],
            piece: vec![0; 65_536],
        })
    }

    fn script_time(&self) -> Duration {
        Duration::from_micros(self.now.as_micros().saturating_sub(T0))
    }

    /// Takes what the endpoint wants to send, cut into segments.
    fn drain(&mut self) {
        let at = self.script_time();
        while let Some(t) = self.ep.poll_transmit_offload(self.now, &mut self.buf) {
            let size = t.segment_size.map_or(usize::MAX, usize::from);
            match synack_wire::offload::Segmenter::new(&self.buf[..t.len], size) {
                Ok(mut cut) => {
                    while let Some(n) = cut.next_into(&mut self.piece) {
                        self.sent.push_back(Sent { at, bytes: self.piece[..n].to_vec() });
                    }
                }
                Err(_) => self.sent.push_back(Sent { at, bytes: self.buf[..t.len].to_vec() }),
            }
        }
    }

    /// Tries the blocked call again.
    fn retry(&mut self) {
        let Some(mut b) = self.blocked.take() else { return };
        let a = self.attempt(&b.spec, &mut b.progress);
        self.drain();
        if a == Attempt::Block {
            self.blocked = Some(b);
        } else {
            self.returned = Some((self.script_time(), a));
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        let poll = self.blocked.as_ref().and_then(|b| b.progress.poll_deadline);
        [self.ep.poll_timeout(), poll].into_iter().flatten().min()
    }
}

impl Target for SynackTarget {
    fn now(&self) -> Duration {
        self.script_time()
    }

    fn run_until(&mut self, until: Duration, stop_on_packet: bool) -> Result<(), String> {
        let target = Instant::from_micros(T0) + until.min(Duration::from_secs(1 << 30));
        loop {
            self.drain();
            self.retry();
            if (stop_on_packet && !self.sent.is_empty()) || self.returned.is_some() {
                return Ok(());
            }
            match self.next_wake() {
                Some(t) if t <= target => {
                    self.now = self.now.max(t);
                    self.ep.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = self.now.max(target);
        self.drain();
        self.retry();
        Ok(())
    }

    fn take_sent(&mut self) -> Option<Sent> {
        self.sent.pop_front()
    }

    fn inject(&mut self, datagram: &[u8], segment_size: Option<u16>) -> Result<(), String> {
        let info = Received { checksum_verified: false, segment_size };
        self.ep.handle_received(self.now, datagram, info);
        self.drain();
        self.retry();
        Ok(())
    }

    fn call(&mut self, spec: &SyscallSpec) -> Attempt {
        let mut progress = Progress::default();
        let a = self.attempt(spec, &mut progress);
        self.drain();
        if a == Attempt::Block {
            self.blocked = Some(Blocked { spec: spec.clone(), progress });
            self.retry();
        }
        a
    }

    fn take_returned(&mut self) -> Option<(Duration, Attempt)> {
        self.returned.take()
    }

    fn sysctl(&mut self, name: &str, value: &str) -> Applied {
        let mut applied = Applied::Ok;
        let valid = self.ep.update_config(|c| applied = settings::apply_sysctl(c, name, value));
        match (applied, valid) {
            (Applied::Ok | Applied::Warn(_), Err(e)) => Applied::Invalid(format!("{name}={value}: {e}")),
            (a, _) => a,
        }
    }

    fn command(&mut self, words: &[String]) -> Applied {
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        match w.as_slice() {
            ["ip", "tcp_metrics", ..] => Applied::Ok,
            ["tc", "qdisc", _, "dev", _, "root", rest @ ..] => {
                let rest = match rest {
                    ["handle", _, more @ ..] => more,
                    _ => rest,
                };
                match rest.first().copied() {
                    Some("pfifo" | "bfifo" | "pfifo_fast" | "fq" | "fq_codel" | "noqueue") | None => Applied::Ok,
                    Some(q) => Applied::Unsupported(format!("tc qdisc {q} would drop or delay packets")),
                }
            }
            ["tc", ..] => Applied::Unsupported(format!("`{}` would shape the traffic", w.join(" "))),
            ["ethtool", "-K", _, flags @ ..] => {
                let off = flags.windows(2).any(|p| matches!(p[0], "tso" | "gso" | "gro") && p[1] == "off");
                if off {
                    let _ = self.ep.update_config(|c| c.offload = synack_core::Offload::default());
                }
                Applied::Ok
            }
            ["ethtool", ..] => Applied::Ok,
            _ => Applied::Warn(format!("command `{}` ignored", w.join(" "))),
        }
    }

    fn tcp_info(&mut self) -> Result<TcpInfo, String> {
        let h = self.current.ok_or("an assertion, but no connection")?;
        tcp_info_of(&self.ep, h, self.now).ok_or_else(|| "the connection under test is gone".to_string())
    }
}

/// The `tcpi_*` fields of a connection at `now`, as Linux reports them.
pub(crate) fn tcp_info_of(ep: &Endpoint, h: ConnHandle, now: Instant) -> Option<TcpInfo> {
    let i = ep.info(h).ok()?;
    // Milliseconds since, as Linux's jiffies_to_msecs(now - stamp).
    let since = |stamp: u32| i64::from(now.millis_u32().wrapping_sub(stamp));
    let us = |d: Duration| d.as_micros() as i64;
    let mss = i64::from(i.snd_mss.max(1));
    let segs = |bytes: u32| (i64::from(bytes) + mss - 1) / mss;
    let mut m = TcpInfo::new();
    m.insert(
        "state",
        match i.state {
            State::Established => 1,
            State::SynSent => 2,
            State::SynReceived => 3,
            State::FinWait1 => 4,
            State::FinWait2 => 5,
            // Linux moves TIME-WAIT to a minisocket: the descriptor's own
            // socket reads TCP_CLOSE from then on.
            State::TimeWait | State::Closed => 7,
            State::CloseWait => 8,
            State::LastAck => 9,
            State::Listen => 10,
            State::Closing => 11,
        },
    );
    let ca_state = if i.in_recovery {
        3
    } else if i.retries > 0 && i.unacked > 0 && i.snd_wnd > 0 {
        4
    } else {
        0
    };
    m.insert("ca_state", ca_state);
    m.insert("retransmits", i64::from(i.retries));
    m.insert("backoff", i64::from(i.backoff));
    m.insert("probes", if i.snd_wnd == 0 { i64::from(i.retries) } else { 0 });
    m.insert(
        "options",
        i64::from(i.timestamps) | (i64::from(i.sack) << 1) | (i64::from(i.snd_wscale > 0 || i.rcv_wscale > 0) << 2),
    );
    m.insert("snd_wscale", i64::from(i.snd_wscale));
    m.insert("rcv_wscale", i64::from(i.rcv_wscale));
    m.insert("rto", us(i.rto));
    m.insert("ato", us(i.ato));
    m.insert("snd_mss", i64::from(i.snd_mss));
    m.insert("rcv_mss", i64::from(i.rcv_mss));
    m.insert("advmss", i64::from(i.rcv_mss));
    m.insert("unacked", segs(i.unacked));
    if let Some(rtt) = i.srtt {
        m.insert("rtt", us(rtt));
    }
    m.insert("rttvar", us(i.rttvar));
    if let Some(min) = i.min_rtt {
        m.insert("min_rtt", us(min));
    }
    m.insert("snd_ssthresh", if i.ssthresh >= 0x7fff_ffff { 0x7fff_ffff } else { i64::from(i.ssthresh) / mss });
    m.insert("snd_cwnd", i64::from(i.cwnd) / mss);
    m.insert("reordering", i64::from(i.reordering));
    m.insert("sacked", (i64::from(i.sacked) + mss - 1) / mss);
    m.insert("lost", (i64::from(i.lost) + mss - 1) / mss);
    m.insert("retrans", (i64::from(i.retrans) + mss - 1) / mss);
    m.insert("reord_seen", i64::from(i.reord_seen));
    m.insert("last_data_sent", since(i.last_data_sent));
    m.insert("last_data_recv", since(i.last_data_recv));
    m.insert("last_ack_recv", since(i.last_ack_recv));
    m.insert("pmtu", i64::from(i.pmtu));
    m.insert("rcv_ssthresh", i64::from(i.rcv_ssthresh));
    m.insert("rcv_wnd", i64::from(i.rcv_wnd));
    if let Some(n) = i.delivered {
        m.insert("delivered", i64::from(n));
    }
    // Linux's tcp_get_info_chrono_stats: busy_time includes the other two.
    let times = i.send_times.at(now);
    m.insert("busy_time", us(times.busy));
    m.insert("rwnd_limited", us(times.rwnd_limited));
    m.insert("sndbuf_limited", us(times.sndbuf_limited));
    m.insert("rcv_ooopack", i.ooo_segments.min(u64::from(u32::MAX)) as i64);
    // Constants in Linux too: FACK is gone (tcpi_fackets = 0) and the last
    // ACK sent is "not remembered" (tcpi_last_ack_sent = 0); no ECN, so no
    // CE-marked delivery; no SO_MAX_PACING_RATE, so the limit is Linux's
    // default ~0 (read as an i64: -1).
    m.insert("fackets", 0);
    m.insert("last_ack_sent", 0);
    m.insert("delivered_ce", 0);
    m.insert("max_pacing_rate", u64::MAX as i64);
    m.insert("dsack_dups", i64::from(i.dsack_dups));
    if let Some(rate) = i.pacing_rate {
        m.insert("pacing_rate", rate.min(i64::MAX as u64) as i64);
    }
    if let Some(rate) = i.delivery_rate {
        m.insert("delivery_rate", rate.min(i64::MAX as u64) as i64);
    }
    m.insert("total_retrans", i.total_retrans as i64);
    m.insert("bytes_acked", i.bytes_acked as i64);
    m.insert("bytes_received", i.bytes_received as i64);
    m.insert("segs_out", i.segs_out as i64);
    m.insert("segs_in", i.segs_in as i64);
    m.insert("notsent_bytes", i.notsent_bytes as i64);
    m.insert("snd_wnd", i64::from(i.snd_wnd));
    m.insert("rcv_space", i64::from(i.rcv_space));
    if let Some(rtt) = i.rcv_rtt {
        m.insert("rcv_rtt", us(rtt));
    }
    m.insert("bytes_sent", i.bytes_sent as i64);
    m.insert("data_segs_in", i.data_segs_in as i64);
    m.insert("data_segs_out", i.data_segs_out as i64);
    m.insert("bytes_retrans", i.bytes_retrans as i64);
    Some(m)
}
