//! The virtual-time engine: runs a parsed script against a fresh endpoint.

use crate::ast::*;
use crate::packet::{self, Numbering};
use crate::settings::{self, Applied, Settings};
use crate::sockets::{Attempt, Progress, Sock};
use crate::Outcome;
use core::net::SocketAddr;
use core::time::Duration;
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use synack_core::{Config, ConnHandle, Endpoint, Instant, State};

/// The port the stack listens on (passive) or connects to (active).
pub const PORT: u16 = 8080;
/// The scripted peer's port in passive tests.
const REMOTE_EPHEMERAL_PORT: u16 = 48_888;
/// The scripted peer's initial sequence number.
const REMOTE_ISN: u32 = 1_000_000;
/// Script time 0 on the stack's clock.
const T0: u64 = 1_000_000;
/// How long `*` and blocked calls may wait for something to happen.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// A blocking call in progress.
struct Pending {
    line: usize,
    spec: SyscallSpec,
    progress: Progress,
    /// Window in which it must return, if the script gave a range.
    until: Option<(Instant, Instant)>,
}

/// Why the run stopped early.
pub(crate) enum Stop {
    Fail(usize, String),
    Skip(usize, String),
}

/// Everything one script run needs.
pub(crate) struct Engine {
    pub ep: Endpoint,
    pub settings: Settings,
    pub now: Instant,
    pub socks: HashMap<i64, Sock>,
    pub current: Option<ConnHandle>,
    pub local_port: Option<u16>,
    pub remote_port: u16,
    sent: VecDeque<(Instant, Vec<u8>)>,
    numbering: Numbering,
    /// Scripted outbound TS val -> the value the stack sent.
    ts_sent: HashMap<u32, u32>,
    pending: Option<Pending>,
    pub warnings: Vec<String>,
    pub trace: Vec<String>,
    verbose: bool,
}

fn secs(d: f64) -> Duration {
    Duration::from_secs_f64(d.max(0.0))
}

impl Engine {
    fn script_time(&self, t: Instant) -> f64 {
        (t.as_micros().saturating_sub(T0)) as f64 / 1e6
    }

    fn at(&self, script_secs: f64) -> Instant {
        Instant::from_micros(T0) + secs(script_secs)
    }

    fn log(&mut self, s: String) {
        if self.verbose {
            let t = self.script_time(self.now);
            self.trace.push(format!("{t:>9.6} {s}"));
        }
    }

    /// Collects what the stack wants to send.
    fn drain(&mut self) {
        let mut buf = vec![0u8; 65536];
        while let Some(n) = self.ep.poll_transmit(self.now, &mut buf) {
            if self.verbose {
                if let Ok(o) = packet::decode(&buf[..n]) {
                    let text = packet::outbound_text(&o, &self.numbering);
                    self.log(format!("> {text}"));
                }
            }
            self.sent.push_back((self.now, buf[..n].to_vec()));
        }
    }

    /// Retries a blocked call; checks its result when it completes.
    fn check_pending(&mut self) -> Result<(), Stop> {
        let Some(mut p) = self.pending.take() else { return Ok(()) };
        let a = self.attempt(&p.spec, &mut p.progress);
        self.drain();
        if a == Attempt::Block {
            self.pending = Some(p);
            return Ok(());
        }
        self.finish_call(p.line, &p.spec, a, p.until)
    }

    /// Checks a call's result against the script.
    fn finish_call(
        &mut self,
        line: usize,
        spec: &SyscallSpec,
        a: Attempt,
        until: Option<(Instant, Instant)>,
    ) -> Result<(), Stop> {
        let tol = self.settings.tolerance;
        match a {
            Attempt::Unsupported(why) => Err(Stop::Skip(line, why)),
            Attempt::Mismatch(m) => Err(Stop::Fail(line, format!("{}: {m}", spec.name))),
            Attempt::Block => Err(Stop::Fail(line, format!("{} did not return", spec.name))),
            Attempt::Done(ret, errno) => {
                self.log(format!("{}(...) = {ret}{}", spec.name, errno.map(|e| format!(" {e}")).unwrap_or_default()));
                let want_errno = spec.errno.as_deref();
                if ret != spec.ret || (spec.ret == -1 && want_errno.is_some() && errno != want_errno) {
                    let got = match errno {
                        Some(e) if ret == -1 => format!("-1 {e}"),
                        _ => ret.to_string(),
                    };
                    let want = match want_errno {
                        Some(e) => format!("{} {e}", spec.ret),
                        None => spec.ret.to_string(),
                    };
                    return Err(Stop::Fail(line, format!("{} returned {got}, expected {want}", spec.name)));
                }
                if let Some((lo, hi)) = until {
                    if self.now + tol < lo || self.now > hi + tol {
                        return Err(Stop::Fail(
                            line,
                            format!(
                                "{} returned at {:.6}, expected between {:.6} and {:.6}",
                                spec.name,
                                self.script_time(self.now),
                                self.script_time(lo),
                                self.script_time(hi)
                            ),
                        ));
                    }
                }
                Ok(())
            }
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        let pending = self.pending.as_ref().and_then(|p| Engine::wake_time(&p.progress));
        [self.ep.poll_timeout(), pending].into_iter().flatten().min()
    }

    /// Moves the clock to `target`, running timers and blocked calls. With
    /// `stop_on_packet`, returns as soon as the stack has sent something.
    fn advance(&mut self, target: Instant, stop_on_packet: bool) -> Result<(), Stop> {
        loop {
            self.drain();
            self.check_pending()?;
            if stop_on_packet && !self.sent.is_empty() {
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
        self.check_pending()
    }

    /// Fails if the stack sent a packet the script did not expect.
    fn no_unexpected(&mut self, line: usize) -> Result<(), Stop> {
        if let Some((t, bytes)) = self.sent.front() {
            let text = packet::decode(bytes).map(|o| packet::outbound_text(&o, &self.numbering)).unwrap_or_else(|e| e);
            return Err(Stop::Fail(line, format!("unexpected outbound packet at {:.6}: {text}", self.script_time(*t))));
        }
        Ok(())
    }

    fn addresses(&self) -> (SocketAddr, SocketAddr) {
        let local = SocketAddr::new(self.settings.local_ip, self.local_port.unwrap_or(PORT));
        let remote = SocketAddr::new(self.settings.remote_ip, self.remote_port);
        (local, remote)
    }

    fn inbound(&mut self, line: usize, p: &PacketSpec) -> Result<(), Stop> {
        let (local, remote) = self.addresses();
        let map = |ecr: u32| -> u32 {
            self.ts_sent.get(&ecr).copied().unwrap_or_else(|| match self.numbering.ts_offset {
                Some(off) if ecr != 0 => ecr.wrapping_add(off),
                _ => ecr,
            })
        };
        let bytes =
            packet::build_inbound(p, &self.numbering, &map, remote, local, 64).map_err(|e| Stop::Fail(line, e))?;
        self.log(format!("< {}", packet::spec_text(p)));
        let now = self.now;
        self.ep.handle_packet(now, &bytes);
        self.drain();
        self.check_pending()
    }

    fn outbound(&mut self, line: usize, p: &PacketSpec, lo: Instant, hi: Instant) -> Result<(), Stop> {
        self.advance(hi, true)?;
        let Some((t, bytes)) = self.sent.pop_front() else {
            return Err(Stop::Fail(
                line,
                format!("expected {} by {:.6}, but nothing was sent", packet::spec_text(p), self.script_time(hi)),
            ));
        };
        let o = packet::decode(&bytes).map_err(|e| Stop::Fail(line, e))?;
        let tol_ms = self.settings.tolerance.as_millis() as u32;
        if self.local_port.is_none() || o.flags.syn() && !o.flags.ack() {
            self.local_port = Some(o.src.port());
        }
        let before = self.numbering.clone();
        let check = packet::check_outbound(p, &o, &mut self.numbering, tol_ms);
        let actual = packet::outbound_text(&o, &self.numbering);
        if let Err(why) = check {
            self.numbering = before;
            return Err(Stop::Fail(
                line,
                format!(
                    "{why}\n  expected: {}\n  actual:   {actual} at {:.6}",
                    packet::spec_text(p),
                    self.script_time(t)
                ),
            ));
        }
        if t < lo {
            return Err(Stop::Fail(
                line,
                format!(
                    "sent too early at {:.6}, expected at {:.6} or later\n  packet: {actual}",
                    self.script_time(t),
                    self.script_time(lo)
                ),
            ));
        }
        if let crate::ast::OptionsSpec::List(l) = &p.options {
            for (want, have) in l.iter().zip(&o.options) {
                if let (OptSpec::Ts(val, _), packet::WireOpt::Ts(v, _)) = (want, have) {
                    self.ts_sent.insert(*val, *v);
                }
            }
        }
        Ok(())
    }

    fn syscall(&mut self, line: usize, spec: &SyscallSpec, until: Option<(Instant, Instant)>) -> Result<(), Stop> {
        let mut progress = Progress::default();
        let a = self.attempt(spec, &mut progress);
        self.drain();
        if a == Attempt::Block {
            self.pending = Some(Pending { line, spec: spec.clone(), progress, until });
            return self.check_pending();
        }
        self.finish_call(line, spec, a, until)
    }

    /// Waits for a blocked call to return before the next call starts.
    fn finish_pending(&mut self, line: usize) -> Result<(), Stop> {
        if self.pending.is_none() {
            return Ok(());
        }
        let limit = self.now + MAX_WAIT;
        while self.pending.is_some() {
            self.advance(self.next_wake().unwrap_or(limit).min(limit), true)?;
            self.no_unexpected(line)?;
            if self.now >= limit || self.next_wake().is_none() && self.pending.is_some() {
                let p = self.pending.take().expect("pending");
                return Err(Stop::Fail(p.line, format!("{} never returned", p.spec.name)));
            }
        }
        Ok(())
    }

    fn command(&mut self, line: usize, cmd: &str, base: Option<&Path>) -> Result<(), Stop> {
        let mut pairs = settings::sysctls_in(cmd);
        if pairs.is_empty() {
            // A file (a shared defaults script) is read for its sysctl lines.
            let first = cmd.split_whitespace().next().unwrap_or("");
            let path = base.map(|b| b.join(first)).unwrap_or_else(|| first.into());
            match std::fs::read_to_string(&path) {
                Ok(text) => pairs = settings::sysctls_in(&text),
                Err(_) => {
                    self.warnings.push(format!("line {line}: command `{cmd}` ignored"));
                    return Ok(());
                }
            }
        }
        for (k, v) in pairs {
            let mut applied = Applied::Ok;
            let valid = self.ep.update_config(|c| applied = settings::apply_sysctl(c, &k, &v));
            match applied {
                Applied::Ok => {}
                Applied::Warn(w) => self.warnings.push(format!("line {line}: {w}")),
                Applied::Unsupported(w) => return Err(Stop::Skip(line, w)),
                Applied::Invalid(w) => return Err(Stop::Fail(line, w)),
            }
            if let Err(e) = valid {
                return Err(Stop::Fail(line, format!("{k}={v}: {e}")));
            }
        }
        Ok(())
    }

    /// A `tcpi_*` field of a connection, as Linux reports it.
    pub(crate) fn tcpi(&self, h: ConnHandle, name: &str) -> Option<i64> {
        let i = self.ep.info(h).ok()?;
        let us = |d: Duration| d.as_micros() as i64;
        let mss = i64::from(i.snd_mss.max(1));
        let segs = |bytes: u32| (i64::from(bytes) + mss - 1) / mss;
        let name = name.strip_prefix("tcpi_").unwrap_or(name);
        Some(match name {
            "state" => match i.state {
                State::Established => 1,
                State::SynSent => 2,
                State::SynReceived => 3,
                State::FinWait1 => 4,
                State::FinWait2 => 5,
                State::TimeWait => 6,
                State::Closed => 7,
                State::CloseWait => 8,
                State::LastAck => 9,
                State::Listen => 10,
                State::Closing => 11,
            },
            "ca_state" => {
                if i.in_recovery {
                    3
                } else if i.retries > 0 && i.unacked > 0 && i.snd_wnd > 0 {
                    4
                } else {
                    0
                }
            }
            "retransmits" | "backoff" => i64::from(i.retries),
            "probes" => {
                if i.snd_wnd == 0 {
                    i64::from(i.retries)
                } else {
                    0
                }
            }
            "options" => {
                i64::from(i.timestamps)
                    | (i64::from(i.sack) << 1)
                    | (i64::from(i.snd_wscale > 0 || i.rcv_wscale > 0) << 2)
            }
            "snd_wscale" => i64::from(i.snd_wscale),
            "rcv_wscale" => i64::from(i.rcv_wscale),
            "rto" => us(i.rto),
            "ato" => us(self.ep.config().delayed_ack),
            "snd_mss" => i64::from(i.snd_mss),
            "rcv_mss" | "advmss" => i64::from(i.rcv_mss),
            "unacked" => segs(i.unacked),
            "rtt" => us(i.srtt?),
            "rttvar" => us(i.rttvar),
            "min_rtt" => us(i.min_rtt?),
            "snd_ssthresh" => {
                if i.ssthresh >= 0x7fff_ffff {
                    0x7fff_ffff
                } else {
                    i64::from(i.ssthresh) / mss
                }
            }
            "snd_cwnd" => i64::from(i.cwnd) / mss,
            "reordering" => 3,
            "total_retrans" => i.total_retrans as i64,
            "bytes_acked" => i.bytes_acked as i64,
            "bytes_received" => i.bytes_received as i64,
            "segs_out" => i.segs_out as i64,
            "segs_in" => i.segs_in as i64,
            "notsent_bytes" => i.notsent_bytes as i64,
            _ => return None,
        })
    }

    fn assert(&mut self, asserts: &[Assertion]) -> Result<(), Stop> {
        for a in asserts {
            let Some(h) = self.current else {
                return Err(Stop::Fail(a.line, "an assertion but no connection".into()));
            };
            let look = |n: &str| self.tcpi(h, n);
            match crate::expr::eval(&a.expr, &look) {
                Ok(0) => {
                    let names = names_in(&a.expr);
                    let values: Vec<String> = names.iter().map(|n| format!("{n}={}", look(n).unwrap_or(-1))).collect();
                    return Err(Stop::Fail(a.line, format!("assertion failed: {} ({})", a.text, values.join(", "))));
                }
                Ok(_) => {}
                Err(crate::expr::EvalError::Unsupported(n)) => {
                    return Err(Stop::Skip(a.line, format!("{n} is not supported in assertions")))
                }
                Err(crate::expr::EvalError::DivideByZero) => return Err(Stop::Fail(a.line, "division by zero".into())),
            }
        }
        Ok(())
    }
}

fn names_in(e: &Expr) -> Vec<String> {
    match e {
        Expr::Name(n) => vec![n.clone()],
        Expr::Not(x) | Expr::Neg(x) => names_in(x),
        Expr::Bin(a, _, b) => {
            let mut v = names_in(a);
            v.extend(names_in(b));
            v
        }
        Expr::Int(_) => vec![],
    }
}

/// Runs a parsed script. `base` is the script's directory (for files named in commands).
pub(crate) fn run(
    script: &Script,
    tolerance: Duration,
    verbose: bool,
    base: Option<&Path>,
) -> (Outcome, Vec<String>, Vec<String>) {
    let (local_ip, remote_ip) = settings::default_ips(false);
    let mut s = Settings { tolerance, local_ip, remote_ip, config: Config::default() };
    let mut warnings = Vec::new();
    for (k, v, line) in &script.options {
        match settings::apply_option(&mut s, k, v) {
            Applied::Ok => {}
            Applied::Warn(w) => warnings.push(format!("line {line}: {w}")),
            Applied::Unsupported(w) => return (Outcome::Skipped { line: *line, reason: w }, warnings, vec![]),
            Applied::Invalid(w) => return (Outcome::Failed { line: *line, message: w }, warnings, vec![]),
        }
    }
    for (k, v, line) in &script.config {
        match settings::apply_config(&mut s.config, k, v) {
            Applied::Ok => {}
            Applied::Warn(w) => warnings.push(format!("line {line}: {w}")),
            Applied::Unsupported(w) => return (Outcome::Skipped { line: *line, reason: w }, warnings, vec![]),
            Applied::Invalid(w) => return (Outcome::Failed { line: *line, message: w }, warnings, vec![]),
        }
    }
    let ep = match Endpoint::new(s.config.clone(), 0x5eed) {
        Ok(ep) => ep,
        Err(e) => {
            let line = script.config.first().or(script.options.first()).map_or(1, |c| c.2);
            return (Outcome::Failed { line, message: format!("configuration: {e}") }, warnings, vec![]);
        }
    };
    let mut e = Engine {
        ep,
        settings: s,
        now: Instant::from_micros(T0),
        socks: HashMap::new(),
        current: None,
        local_port: None,
        remote_port: REMOTE_EPHEMERAL_PORT,
        sent: VecDeque::new(),
        numbering: Numbering { remote_isn: REMOTE_ISN, local_isn: None, ts_offset: None },
        ts_sent: HashMap::new(),
        pending: None,
        warnings,
        trace: Vec::new(),
        verbose,
    };
    let result = run_events(&mut e, script, base);
    let outcome = match result {
        Ok(()) => Outcome::Passed,
        Err(Stop::Fail(line, message)) => Outcome::Failed { line, message },
        Err(Stop::Skip(line, reason)) => Outcome::Skipped { line, reason },
    };
    (outcome, e.warnings, e.trace)
}

fn run_events(e: &mut Engine, script: &Script, base: Option<&Path>) -> Result<(), Stop> {
    let tol = e.settings.tolerance;
    let mut prev = 0.0f64;
    let mut last_line = 0;
    let resolve = |p: TimePoint, prev: f64| if p.relative { prev + p.secs } else { p.secs };
    for ev in &script.events {
        last_line = ev.line;
        let line = ev.line;
        match &ev.kind {
            EventKind::Packet(p) if p.dir == Dir::Out => {
                let (lo, hi, t) = match ev.time {
                    TimeSpec::At(tp) => {
                        let t = resolve(tp, prev);
                        (e.at(t).as_micros().saturating_sub(tol.as_micros() as u64), e.at(t) + tol, Some(t))
                    }
                    TimeSpec::Window(a, b) | TimeSpec::Range(a, b) => {
                        let (a, b) = (resolve(a, prev), resolve(b, prev));
                        (e.at(a).as_micros().saturating_sub(tol.as_micros() as u64), e.at(b) + tol, None)
                    }
                    TimeSpec::Any | TimeSpec::Previous => (0, e.now + MAX_WAIT, None),
                };
                e.outbound(line, p, Instant::from_micros(lo), hi)?;
                prev = t.unwrap_or_else(|| e.script_time(e.now));
            }
            _ => {
                let (t, until) = match ev.time {
                    TimeSpec::At(tp) => (resolve(tp, prev), None),
                    TimeSpec::Range(a, b) => {
                        let (a, b) = (resolve(a, prev), resolve(b, prev));
                        (a, Some((e.at(a), e.at(b))))
                    }
                    TimeSpec::Window(a, _) => (resolve(a, prev), None),
                    TimeSpec::Any | TimeSpec::Previous => (prev, None),
                };
                if matches!(ev.kind, EventKind::Syscall(_)) {
                    e.finish_pending(line)?;
                }
                let target = e.at(t);
                if target > e.now {
                    e.advance(target, true)?;
                    e.no_unexpected(line)?;
                    e.advance(target, true)?;
                }
                e.no_unexpected(line)?;
                match &ev.kind {
                    EventKind::Packet(p) => e.inbound(line, p)?,
                    EventKind::Syscall(sc) => e.syscall(line, sc, until)?,
                    EventKind::Assert(a) => e.assert(a)?,
                    EventKind::Command(cmd) => e.command(line, cmd, base)?,
                }
                prev = t;
            }
        }
    }
    e.finish_pending(last_line)?;
    // Packets sent by the time of the last event were not expected.
    if let Some(&(t, _)) = e.sent.front() {
        if t <= e.at(prev) {
            e.no_unexpected(last_line)?;
        }
    }
    Ok(())
}
