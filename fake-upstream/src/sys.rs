//! The few OS calls std does not wrap: adopting the listening socket a worker inherits from its
//! supervisor, sending signals to workers, and dying with the parent. Each `unsafe` block is a
//! single libc call or fd adoption with its invariant stated.
#![allow(unsafe_code)]

use std::os::fd::{FromRawFd, RawFd};

/// Adopts the inherited listening socket `fd` (passed by the supervisor in the environment).
///
/// Fails unless `fd` is an open socket in listening state, so a bogus number cannot make us
/// own an unrelated descriptor.
pub fn inherited_listener(fd: RawFd) -> std::io::Result<std::net::TcpListener> {
    let mut accepting: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt only writes `len` bytes into `accepting`, which is a valid c_int.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&raw mut accepting).cast(),
            &mut len,
        )
    };
    if rc != 0 || accepting == 0 {
        return Err(std::io::Error::other(format!(
            "fd {fd} is not a listening socket"
        )));
    }
    // SAFETY: fd is an open listening socket (checked above) that this process owns from now on;
    // nothing else in the worker refers to it.
    Ok(unsafe { std::net::TcpListener::from_raw_fd(fd) })
}

/// Sends `sig` to process `pid` (ignores errors: the process may already be gone).
pub fn kill(pid: u32, sig: i32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Asks the kernel to SIGKILL this process when its parent dies, and exits now if the parent
/// `parent` is already gone, so that worker processes never outlive their supervisor.
pub fn die_with_parent(parent: u32) {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes plain integers; getppid has no preconditions.
    let ppid = unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        libc::getppid()
    };
    if u32::try_from(ppid).ok() != Some(parent) {
        std::process::exit(1);
    }
}
