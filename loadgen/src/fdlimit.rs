//! Process and thread limits: the soft limit on open files raised to the hard limit (thousands
//! of idle connections need more than the usual 1024), and for pacing a 1 µs timer slack and a
//! short scheduler slice (an EEVDF slice request).

/// Best effort: sets RLIMIT_NOFILE's soft limit to its hard limit.
#[allow(unsafe_code)]
pub fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass, which lives on our stack.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Best effort: sets this thread's timer slack to 1 µs (default 50 µs), so that the open-loop
/// pacing timer fires close to the intended send time.
#[allow(unsafe_code)]
pub fn tight_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes an integer argument and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong, 0, 0, 0);
    }
}

/// Requested scheduler slice of worker threads (ns): the shortest EEVDF accepts (0.1 ms).
pub const WORKER_SLICE_NS: u64 = 100_000;

/// Best effort: asks the scheduler for a short time slice ([`WORKER_SLICE_NS`]) for this
/// thread, keeping its policy and nice value. On Linux ≥ 6.12 (EEVDF slice requests) a
/// thread with a shorter slice gets an earlier virtual deadline, so when its pacing timer fires
/// while the CPU runs another task (a compiler, the server under test) it preempts that task
/// instead of waiting for the end of its slice (up to a few milliseconds). Its CPU share is
/// unchanged (that is what nice sets). Older kernels ignore the request. Returns whether the
/// kernel accepted it.
#[allow(unsafe_code)]
pub fn short_slice() -> bool {
    let size = std::mem::size_of::<libc::sched_attr>() as u32;
    // SAFETY: sched_attr is a plain C struct of integers, valid when zeroed.
    let mut attr: libc::sched_attr = unsafe { std::mem::zeroed() };
    // SAFETY: sched_getattr/sched_setattr (pid 0 = this thread) read and write only the struct
    // we pass, whose size we give; flags 0.
    unsafe {
        if libc::syscall(libc::SYS_sched_getattr, 0, &mut attr, size, 0) != 0 {
            return false;
        }
        if attr.sched_policy != libc::SCHED_OTHER as u32 {
            return false;
        }
        attr.size = size;
        attr.sched_flags = 0;
        attr.sched_runtime = WORKER_SLICE_NS;
        libc::syscall(libc::SYS_sched_setattr, 0, &attr, 0) == 0
    }
}
