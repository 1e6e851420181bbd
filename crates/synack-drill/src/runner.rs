//! The event loop (DRILL.md): runs a parsed script against a [`Target`],
//! the same way for every engine. Times are relative to when the previous
//! event actually finished (consecutive inbound packets chain on their
//! scripted times; a blocking call's successors count from its start), with
//! a tolerance of max(`--tolerance_usecs`, `--tolerance_percent` of the
//! scripted gap). Each `>` line takes the next segments the stack sent,
//! aggregated up to its length unless `--strict_segments`; `%{ }%` blocks
//! are snapshots evaluated after the last event, in order.

use crate::ast::*;
use crate::packet::{self, Numbering, Outbound};
use crate::settings::{Applied, Settings};
use crate::target::{Attempt, Target, TcpInfo};
use crate::Outcome;
use core::net::SocketAddr;
use core::time::Duration;
use std::collections::HashMap;
use std::path::Path;

/// The port the stack listens on (passive) or connects to (active).
pub const PORT: u16 = 8080;
/// The scripted peer's port in passive tests.
pub const REMOTE_EPHEMERAL_PORT: u16 = 48_888;
/// The scripted peer's initial sequence number.
pub const REMOTE_ISN: u32 = 1_000_000;
/// How long `*` packets and blocked calls may wait.
const MAX_WAIT: Duration = Duration::from_secs(3600);
/// How long past its window an expected packet is waited for before the
/// script fails with "nothing was sent".
const GRACE: Duration = Duration::from_secs(2);

/// Why the run stopped early.
pub(crate) enum Stop {
    Fail(usize, String),
    Skip(usize, String),
}

/// A blocking call in progress.
struct Pending {
    line: usize,
    spec: SyscallSpec,
    /// When it must return, within the tolerance.
    until: Option<(Duration, Duration)>,
}

/// The runner's state for one script.
struct Run<'a> {
    t: &'a mut dyn Target,
    s: &'a Settings,
    numbering: Numbering,
    /// Scripted outbound TS val -> the value the stack sent (latest wins).
    ts_sent: HashMap<u32, u32>,
    /// The stack's port of the connection under test.
    local_port: Option<u16>,
    remote_port: u16,
    pending: Option<Pending>,
    /// Segments taken from the target but not yet matched (aggregation looks ahead).
    held: std::collections::VecDeque<crate::target::Sent>,
    /// `%{ }%` blocks with the snapshot taken at their time.
    snapshots: Vec<(Vec<Statement>, Result<TcpInfo, String>)>,
    warnings: Vec<String>,
    trace: Vec<String>,
    verbose: bool,
    base: Option<&'a Path>,
}

fn secs(d: f64) -> Duration {
    Duration::from_secs_f64(d.max(0.0))
}

fn show(d: Duration) -> String {
    format!("{:.6}", d.as_secs_f64())
}

impl Run<'_> {
    fn log(&mut self, s: String) {
        if self.verbose {
            let t = self.t.now();
            self.trace.push(format!("{:>9} {s}", show(t)));
        }
    }

    fn tolerance(&self, gap: Duration) -> Duration {
        self.s.tolerance.max(gap.mul_f64(self.s.tolerance_percent / 100.0))
    }

    fn addresses(&self) -> (SocketAddr, SocketAddr) {
        let local = SocketAddr::new(self.s.local_ip, self.local_port.unwrap_or(PORT));
        let remote = SocketAddr::new(self.s.remote_ip, self.remote_port);
        (local, remote)
    }

    /// Checks a blocked call that has returned.
    fn collect_returned(&mut self) -> Result<(), Stop> {
        if self.pending.is_none() {
            return Ok(());
        }
        if let Some((at, a)) = self.t.take_returned() {
            let p = self.pending.take().expect("pending");
            self.finish_call(p.line, &p.spec, a, at, p.until)?;
        }
        Ok(())
    }

    /// Lets time run to `to`, checking blocked calls on the way.
    fn advance(&mut self, to: Duration) -> Result<(), Stop> {
        loop {
            self.t.run_until(to, false).map_err(|e| Stop::Fail(0, e))?;
            self.collect_returned()?;
            if self.t.now() >= to {
                return Ok(());
            }
        }
    }

    /// Checks a call's result (and, for a range, when it returned).
    fn finish_call(
        &mut self,
        line: usize,
        spec: &SyscallSpec,
        a: Attempt,
        at: Duration,
        until: Option<(Duration, Duration)>,
    ) -> Result<(), Stop> {
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
                    if at < lo || at > hi {
                        return Err(Stop::Fail(
                            line,
                            format!(
                                "{} returned at {}, expected between {} and {}",
                                spec.name,
                                show(at),
                                show(lo),
                                show(hi)
                            ),
                        ));
                    }
                }
                Ok(())
            }
        }
    }

    /// Waits for a blocked call to return before the next call starts.
    fn finish_pending(&mut self, line: usize) -> Result<(), Stop> {
        let limit = self.t.now() + MAX_WAIT;
        while self.pending.is_some() {
            let now = self.t.now();
            if now >= limit {
                break;
            }
            self.t.run_until(limit, false).map_err(|e| Stop::Fail(line, e))?;
            self.collect_returned()?;
            if self.pending.is_some() && self.t.now() <= now {
                break;
            }
        }
        if let Some(p) = self.pending.take() {
            return Err(Stop::Fail(p.line, format!("{} never returned", p.spec.name)));
        }
        Ok(())
    }

    fn inbound(&mut self, line: usize, p: &PacketSpec) -> Result<(), Stop> {
        let (local, remote) = self.addresses();
        let map = |ecr: u32| -> u32 {
            self.ts_sent.get(&ecr).copied().unwrap_or_else(|| match self.numbering.ts_offset {
                Some(off) if ecr != 0 && self.s.ts_ecr_scaled => ecr.wrapping_add(off),
                _ => ecr,
            })
        };
        let bytes =
            packet::build_inbound(p, &self.numbering, &map, remote, local, 64).map_err(|e| Stop::Fail(line, e))?;
        self.log(format!("< {}", packet::spec_text(p)));
        let gso = self.s.mss.filter(|&m| p.len > u32::from(m));
        self.t.inject(&bytes, gso).map_err(|e| Stop::Fail(line, e))?;
        self.collect_returned()
    }

    /// The next segment the stack sends, waited for until `deadline`.
    fn next_sent(&mut self, deadline: Duration) -> Result<Option<crate::target::Sent>, Stop> {
        if let Some(s) = self.held.pop_front() {
            return Ok(Some(s));
        }
        loop {
            if let Some(s) = self.t.take_sent() {
                return Ok(Some(s));
            }
            if self.t.now() >= deadline {
                return Ok(None);
            }
            self.t.run_until(deadline, true).map_err(|e| Stop::Fail(0, e))?;
            self.collect_returned()?;
        }
    }

    /// An outbound line: takes the next segments (aggregated), compares
    /// them, and returns when the (last) one was sent.
    fn outbound(
        &mut self,
        line: usize,
        p: &PacketSpec,
        lo: Duration,
        hi: Duration,
        wait: Duration,
    ) -> Result<Duration, Stop> {
        let nothing =
            || Stop::Fail(line, format!("expected {} by {}, but nothing was sent", packet::spec_text(p), show(hi)));
        let first = self.next_sent(wait)?.ok_or_else(nothing)?;
        let decode = |b: &[u8]| packet::decode(b).map_err(|e| Stop::Fail(line, e));
        let mut agg: Outbound = decode(&first.bytes)?;
        let mut at = first.at;
        let mut piece = agg.len;
        let mark = |o: &Outbound| if o.flags.psh() { 'P' } else { '.' };
        let mut pieces = String::from(mark(&agg));
        // Aggregation (DRILL.md): consecutive segments with the same headers
        // (but seq, PSH, FIN), of equal sizes but the last, up to the length.
        while !self.s.strict_segments && p.len > 0 && agg.len < p.len && piece > 0 {
            let Some(next) = self.next_sent(wait)? else { break };
            let o = decode(&next.bytes)?;
            let joins = o.seq == agg.seq.wrapping_add(agg.len) && o.len > 0 && o.len <= piece && same_headers(&agg, &o);
            if !joins {
                self.held.push_front(next);
                break;
            }
            piece = if o.len < piece { 0 } else { piece };
            agg.len += o.len;
            agg.flags = o.flags;
            pieces.push(mark(&o));
            agg.checksum_ok &= o.checksum_ok;
            at = next.at;
        }
        if self.local_port.is_none() || agg.flags.syn() && !agg.flags.ack() {
            self.local_port = Some(agg.src.port());
        }
        let before = self.numbering.clone();
        let check = packet::check_outbound(p, &agg, &mut self.numbering, self.s.ts_tick);
        let actual = packet::outbound_text(&agg, &self.numbering);
        if pieces.len() > 1 {
            // Verbose traces show the segments an aggregate was made of (PSH or not).
            self.log(format!("> {actual} ({} segments: {pieces})", pieces.len()));
        } else {
            self.log(format!("> {actual}"));
        }
        if let Err(why) = check {
            self.numbering = before;
            return Err(Stop::Fail(
                line,
                format!("{why}\n  expected: {}\n  actual:   {actual} at {}", packet::spec_text(p), show(at)),
            ));
        }
        if at < lo || at > hi {
            let when = if at < lo { "early" } else { "late" };
            return Err(Stop::Fail(
                line,
                format!(
                    "sent too {when} at {}, expected between {} and {}\n  packet: {actual}",
                    show(at),
                    show(lo),
                    show(hi)
                ),
            ));
        }
        if let OptionsSpec::List(l) = &p.options {
            for (want, have) in l.iter().zip(&agg.options) {
                if let (OptSpec::Ts(val, _), packet::WireOpt::Ts(v, _)) = (want, have) {
                    self.ts_sent.insert(*val, *v);
                }
            }
        }
        Ok(at)
    }

    fn syscall(
        &mut self,
        line: usize,
        spec: &SyscallSpec,
        until: Option<(Duration, Duration)>,
    ) -> Result<Duration, Stop> {
        // A connect that opens (or is refused: its SYN still goes out) is an
        // active open: the scripted peer listens on PORT. One the script
        // expects to fail at once (on a connected socket, a bad descriptor)
        // opens nothing and leaves the flow as it is.
        let opens_nothing = matches!(
            spec.errno.as_deref(),
            Some("EISCONN" | "EALREADY" | "EBADF" | "EINVAL" | "ENOTSOCK" | "EAFNOSUPPORT")
        );
        if spec.name == "connect" && !opens_nothing {
            self.remote_port = PORT;
        }
        let a = self.t.call(spec);
        if a == Attempt::Block {
            self.pending = Some(Pending { line, spec: spec.clone(), until });
            self.collect_returned()?;
            return Ok(self.t.now());
        }
        let at = self.t.now();
        self.finish_call(line, spec, a, at, until)?;
        Ok(at)
    }

    /// A backtick command, interpreted (DRILL.md, "Configuration").
    fn command(&mut self, line: usize, cmd: &str) -> Result<(), Stop> {
        for action in crate::commands::interpret(cmd, self.base) {
            let applied = match action {
                crate::commands::Action::Sysctl(k, v) => self.t.sysctl(&k, &v),
                crate::commands::Action::Run(words) => self.t.command(&words),
                crate::commands::Action::Warn(w) => Applied::Warn(w),
            };
            match applied {
                Applied::Ok => {}
                Applied::Warn(w) => self.warnings.push(format!("line {line}: {w}")),
                Applied::Unsupported(w) => return Err(Stop::Skip(line, w)),
                Applied::Invalid(w) => return Err(Stop::Fail(line, w)),
            }
        }
        Ok(())
    }

    /// Checks the `%{ }%` snapshots, in order.
    fn assertions(&mut self) -> Result<(), Stop> {
        for (stmts, info) in std::mem::take(&mut self.snapshots) {
            for st in &stmts {
                let a = match st {
                    Statement::Ignored => continue,
                    Statement::Unsupported { line, text } => {
                        return Err(Stop::Skip(*line, format!("Python statement `{text}` is not supported")))
                    }
                    Statement::Assert(a) => a,
                };
                let info = info.as_ref().map_err(|e| Stop::Fail(a.line, e.clone()))?;
                let look = |n: &str| info.get(n.strip_prefix("tcpi_").unwrap_or(n)).copied();
                match crate::expr::eval(&a.expr, &look) {
                    Ok(v) if matches!(v, crate::expr::Value::Int(0)) || v == crate::expr::Value::Float(0.0) => {
                        let values: Vec<String> =
                            names_in(&a.expr).iter().map(|n| format!("{n}={}", look(n).unwrap_or(-1))).collect();
                        return Err(Stop::Fail(
                            a.line,
                            format!("assertion failed: {} ({})", a.text, values.join(", ")),
                        ));
                    }
                    Ok(_) => {}
                    Err(crate::expr::EvalError::Unsupported(n)) => {
                        return Err(Stop::Skip(a.line, format!("{n} is not reported by this engine")))
                    }
                    Err(crate::expr::EvalError::DivideByZero) => {
                        return Err(Stop::Fail(a.line, "division by zero".into()))
                    }
                    Err(crate::expr::EvalError::Invalid(m)) => return Err(Stop::Fail(a.line, m)),
                }
            }
        }
        Ok(())
    }
}

fn same_headers(a: &Outbound, b: &Outbound) -> bool {
    let mask = |f: synack_wire::TcpFlags| f.0 & !(synack_wire::TcpFlags::PSH.0 | synack_wire::TcpFlags::FIN.0);
    mask(a.flags) == mask(b.flags)
        && a.ack == b.ack
        && a.win == b.win
        && a.urg == b.urg
        && a.options == b.options
        && a.src == b.src
        && a.dst == b.dst
        && a.ecn == b.ecn
}

fn names_in(e: &Expr) -> Vec<String> {
    match e {
        Expr::Name(n) if crate::expr::constant(n).is_none() => vec![n.clone()],
        Expr::Name(_) | Expr::Int(_) => vec![],
        Expr::Unary(_, x) => names_in(x),
        Expr::Bin(a, _, b) => {
            let mut v = names_in(a);
            v.extend(names_in(b));
            v
        }
        Expr::Compare(a, rest) => {
            let mut v = names_in(a);
            for (_, x) in rest {
                v.extend(names_in(x));
            }
            v
        }
        Expr::Call(_, args) => args.iter().flat_map(names_in).collect(),
    }
}

/// When an event is scripted, as times the runner checks.
struct When {
    /// Its scripted time.
    at: Duration,
    /// The scripted gap since the previous event (for the tolerance).
    gap: Duration,
}

/// Runs a parsed script against `target` with `settings`. `base` is the
/// script's directory (for files named in commands).
pub(crate) fn run(
    script: &Script,
    target: &mut dyn Target,
    settings: &Settings,
    verbose: bool,
    base: Option<&Path>,
) -> (Outcome, Vec<String>, Vec<String>) {
    let mut r = Run {
        t: target,
        s: settings,
        numbering: Numbering { remote_isn: REMOTE_ISN, local_isn: None, ts_offset: None, ts_first: None },
        ts_sent: HashMap::new(),
        local_port: None,
        remote_port: REMOTE_EPHEMERAL_PORT,
        pending: None,
        held: Default::default(),
        snapshots: Vec::new(),
        warnings: Vec::new(),
        trace: Vec::new(),
        verbose,
        base,
    };
    let result = run_events(&mut r, script).and_then(|()| r.assertions());
    let outcome = match result {
        Ok(()) => Outcome::Passed,
        Err(Stop::Fail(line, message)) => Outcome::Failed { line, message },
        Err(Stop::Skip(line, reason)) => Outcome::Skipped { line, reason },
    };
    (outcome, r.warnings, r.trace)
}

fn run_events(r: &mut Run<'_>, script: &Script) -> Result<(), Stop> {
    // The base of the next relative time: when the previous event actually
    // finished, and the previous event's scripted time (inbound chains).
    let mut finished = Duration::ZERO;
    let mut scripted = Duration::ZERO;
    let mut prev_inbound = false;
    let mut last_line = 0;
    for ev in &script.events {
        let line = ev.line;
        last_line = line;
        let inbound = matches!(&ev.kind, EventKind::Packet(p) if p.dir == Dir::In);
        let base = if inbound && prev_inbound { scripted } else { finished };
        let point = |tp: TimePoint| -> When {
            let at = if tp.relative { base + secs(tp.secs) } else { secs(tp.secs) };
            When { at, gap: at.saturating_sub(base) }
        };
        match (&ev.kind, ev.time) {
            (EventKind::Packet(p), time) if p.dir == Dir::Out => {
                let (lo, hi, wait) = match time {
                    TimeSpec::At(tp) => {
                        let w = point(tp);
                        let tol = r.tolerance(w.gap);
                        (w.at.saturating_sub(tol), w.at + tol, w.at + tol + GRACE)
                    }
                    TimeSpec::Window(a, b) | TimeSpec::Range(a, b) => {
                        let (a, b) = (point(a), point(b));
                        let tol = r.tolerance(b.gap);
                        (a.at.saturating_sub(tol), b.at + tol, b.at + tol + GRACE)
                    }
                    TimeSpec::Any | TimeSpec::Previous => (Duration::ZERO, Duration::MAX, r.t.now() + MAX_WAIT),
                };
                let at = r.outbound(line, p, lo, hi, wait)?;
                finished = at;
                scripted = match time {
                    TimeSpec::At(tp) => point(tp).at,
                    _ => at,
                };
            }
            (kind, time) => {
                let (w, until) = match time {
                    TimeSpec::At(tp) => (point(tp), None),
                    TimeSpec::Range(a, b) => {
                        let (a, b) = (point(a), point(b));
                        let tol = r.tolerance(b.gap);
                        let until = (b.at.saturating_sub(tol), b.at + tol);
                        (a, Some(until))
                    }
                    TimeSpec::Window(a, _) => (point(a), None),
                    TimeSpec::Any | TimeSpec::Previous => (When { at: base, gap: Duration::ZERO }, None),
                };
                if matches!(kind, EventKind::Syscall(_)) {
                    r.finish_pending(line)?;
                }
                if w.at > r.t.now() {
                    r.advance(w.at)?;
                }
                finished = match kind {
                    EventKind::Packet(p) => {
                        r.inbound(line, p)?;
                        w.at
                    }
                    EventKind::Syscall(sc) => {
                        let returned = r.syscall(line, sc, until)?;
                        // A blocked call's successors count from its start.
                        if r.pending.is_some() {
                            w.at
                        } else {
                            returned
                        }
                    }
                    EventKind::Assert(stmts) => {
                        let info = r.t.tcp_info();
                        r.snapshots.push((stmts.clone(), info));
                        w.at
                    }
                    EventKind::Command(cmd) => {
                        r.command(line, cmd)?;
                        w.at
                    }
                };
                scripted = w.at;
            }
        }
        prev_inbound = inbound;
    }
    r.finish_pending(last_line)
}
