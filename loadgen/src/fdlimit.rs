//! Process and thread limits: the soft limit on open files raised to the hard limit (thousands
//! of idle connections need more than the usual 1024), and a 1 µs timer slack for pacing.

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
