//! A fresh network namespace for one script, entered by the calling
//! thread (network namespaces are per thread) and left again on drop; the
//! namespace, with its device and sockets, goes when nothing holds it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;

/// The calling thread's stay in a new network namespace.
pub struct Namespace {
    /// The namespace the thread came from.
    original: OwnedFd,
}

impl Namespace {
    /// Moves the calling thread into a new, empty network namespace.
    pub fn enter_new() -> io::Result<Namespace> {
        // SAFETY: open(2) of a NUL-terminated literal path.
        let raw = unsafe { libc::open(c"/proc/thread-self/ns/net".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` was just opened and nothing else owns it.
        let original = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: unshare(2) with a constant flag; it affects only this thread.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Namespace { original })
    }

    /// Runs a command (`ip`, `tc`) inside the namespace: a child of this
    /// thread starts in its namespace. Returns its error output on failure.
    pub fn run(&self, args: &[&str]) -> Result<(), String> {
        let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("{}: {e}", args[0]))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("`{}`: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
        }
    }

    /// Writes a sysctl of this namespace (`net.ipv4.tcp_sack`).
    pub fn sysctl(&self, name: &str, value: &str) -> io::Result<()> {
        let path = format!("/proc/sys/{}", name.replace('.', "/"));
        std::fs::write(path, format!("{value}\n"))
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // SAFETY: setns(2) back into the namespace the thread came from, by
        // a descriptor this struct owns.
        unsafe {
            libc::setns(self.original.as_raw_fd(), libc::CLONE_NEWNET);
        }
    }
}
