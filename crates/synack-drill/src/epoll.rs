//! epoll for the synack engine (epoll_create, epoll_ctl, epoll_wait), on
//! the readiness poll uses (Linux's tcp_poll, `SynackTarget::revents`):
//! level-triggered by default; EPOLLET reports a socket again only when
//! something new happened (a condition appeared, or more data arrived);
//! EPOLLONESHOT disarms it once reported, until EPOLL_CTL_MOD. EPOLLERR
//! and EPOLLHUP are reported whether asked for or not.

use crate::ast::SyscallSpec;
use crate::sockets::{errno, Progress};
use crate::synack_target::SynackTarget;
use crate::syscall_args::{arg_int, expected_events, int, poll_text, struct_field};
use crate::target::Attempt;
use core::time::Duration;

const EPOLLERR: u32 = 0x8;
const EPOLLHUP: u32 = 0x10;
const EPOLLONESHOT: u32 = 1 << 30;
const EPOLLET: u32 = 1 << 31;
const EPOLL_CTL_ADD: i64 = 1;
const EPOLL_CTL_DEL: i64 = 2;
const EPOLL_CTL_MOD: i64 = 3;

/// One descriptor in an epoll set.
#[derive(Debug, Clone)]
struct Interest {
    fd: i64,
    events: u32,
    /// Edge-triggered: what was last reported, and the bytes readable then.
    last: (u32, usize),
    /// One-shot and reported: silent until modified.
    disarmed: bool,
}

/// An epoll instance of the script.
#[derive(Debug, Clone, Default)]
pub struct EpollSet {
    interests: Vec<Interest>,
}

impl EpollSet {
    /// `fd` was closed: it leaves the set.
    pub(crate) fn forget(&mut self, fd: i64) {
        self.interests.retain(|i| i.fd != fd);
    }
}

impl SynackTarget {
    /// epoll_create and epoll_create1: a new set under the descriptor the script expects.
    pub(crate) fn epoll_create(&mut self, spec: &SyscallSpec) -> Result<Attempt, Attempt> {
        if spec.name == "epoll_create" && arg_int(spec, 0)? <= 0 {
            return Ok(errno("EINVAL"));
        }
        let fd = spec.ret;
        if fd < 0 {
            return Err(Attempt::Unsupported("epoll_create expected to fail".into()));
        }
        self.epolls.insert(fd, EpollSet::default());
        Ok(Attempt::Done(fd, None))
    }

    /// epoll_ctl: ADD (EEXIST if there), MOD and DEL (ENOENT if not).
    pub(crate) fn epoll_ctl(&mut self, spec: &SyscallSpec) -> Result<Attempt, Attempt> {
        let (epfd, op, fd) = (arg_int(spec, 0)?, arg_int(spec, 1)?, arg_int(spec, 2)?);
        let events = spec.args.get(3).and_then(|a| struct_field(a, &["events"])).and_then(int).unwrap_or(0) as u32;
        if !self.epolls.contains_key(&epfd) || !(self.socks.contains_key(&fd) || self.epolls.contains_key(&fd)) {
            return Ok(errno("EBADF"));
        }
        if fd == epfd || self.epolls.contains_key(&fd) {
            return Ok(errno("EINVAL"));
        }
        let set = self.epolls.get_mut(&epfd).expect("checked above");
        let at = set.interests.iter().position(|i| i.fd == fd);
        match (op, at) {
            (EPOLL_CTL_ADD, Some(_)) => return Ok(errno("EEXIST")),
            (EPOLL_CTL_ADD, None) => set.interests.push(Interest { fd, events, last: (0, 0), disarmed: false }),
            (EPOLL_CTL_MOD, Some(i)) => set.interests[i] = Interest { fd, events, last: (0, 0), disarmed: false },
            (EPOLL_CTL_DEL, Some(i)) => {
                set.interests.remove(i);
            }
            (EPOLL_CTL_MOD | EPOLL_CTL_DEL, None) => return Ok(errno("ENOENT")),
            _ => return Ok(errno("EINVAL")),
        }
        Ok(Attempt::Done(0, None))
    }

    /// epoll_wait: up to `maxevents` ready descriptors, blocking (in virtual
    /// time) up to the timeout; each expected `{events=...}` is compared,
    /// in order, with what is reported.
    pub(crate) fn epoll_wait(&mut self, spec: &SyscallSpec, p: &mut Progress, first: bool) -> Result<Attempt, Attempt> {
        let epfd = arg_int(spec, 0)?;
        let max = arg_int(spec, 2)?;
        let timeout_ms = arg_int(spec, 3)?;
        if !self.epolls.contains_key(&epfd) {
            return Ok(errno("EBADF"));
        }
        if max <= 0 {
            return Ok(errno("EINVAL"));
        }
        if first && timeout_ms > 0 {
            p.poll_deadline = Some(self.now + Duration::from_millis(timeout_ms as u64));
        }
        let mut ready = Vec::new();
        // A copy to update while `revents` borrows the target; kept only
        // if the wait returns (a blocked wait reports nothing).
        let mut updated = self.epolls[&epfd].clone();
        for interest in updated.interests.iter_mut() {
            let asked = interest.events & !(EPOLLET | EPOLLONESHOT);
            let got = self.revents(interest.fd, i64::from(asked)) as u32 & (asked | EPOLLERR | EPOLLHUP);
            let readable = self.readable_of(interest.fd);
            if interest.disarmed || got == 0 {
                interest.last = (got, readable);
                continue;
            }
            if interest.events & EPOLLET != 0 {
                let (last, last_readable) = interest.last;
                let news = got & !last != 0 || readable > last_readable;
                interest.last = (got, readable);
                if !news {
                    continue;
                }
            }
            if ready.len() < max as usize {
                ready.push((interest.fd, got));
                if interest.events & EPOLLONESHOT != 0 {
                    interest.disarmed = true;
                }
            }
        }
        let expired = timeout_ms == 0 || p.poll_deadline.is_some_and(|d| self.now >= d);
        if ready.is_empty() && !expired {
            return Ok(Attempt::Block);
        }
        self.epolls.insert(epfd, updated);
        if let Some(want) = expected_events(spec) {
            for (w, (fd, got)) in want.iter().zip(&ready) {
                if let Some(we) = struct_field(w, &["events"]).and_then(int) {
                    if we as u32 != *got {
                        return Ok(Attempt::Mismatch(format!(
                            "events {} for fd {fd} instead of {}",
                            poll_text(i64::from(*got)),
                            poll_text(we)
                        )));
                    }
                }
            }
        }
        Ok(Attempt::Done(ready.len() as i64, None))
    }

    /// Bytes readable on `fd` (0 for anything but a connection).
    fn readable_of(&self, fd: i64) -> usize {
        match self.socks.get(&fd).map(|s| &s.kind) {
            Some(crate::sockets::SockKind::Conn(h)) => self.ep.readable_bytes(*h).unwrap_or(0),
            _ => 0,
        }
    }
}
