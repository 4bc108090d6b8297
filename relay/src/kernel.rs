//! What the kernel offers for link faults, probed at run time in a throwaway network
//! namespace: `netem` (delay, loss, reordering seen by TCP) and `tbf` (rate limiting).
//! Scenario files asking for `mode = "kernel"` get the probe's findings in their refusal.

use std::process::Command;

/// The outcome of one probe step (`Err` carries the tool's own message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `ip netns add` worked.
    pub netns: Result<(), String>,
    /// `tc qdisc … netem delay 1ms` on the namespace's loopback worked.
    pub netem: Result<(), String>,
    /// `tc qdisc … tbf` on the namespace's loopback worked.
    pub tbf: Result<(), String>,
}

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("cannot run {}: {e} (apt-get install -y iproute2)", args[0]))?;
    if out.status.success() {
        Ok(())
    } else {
        let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(if msg.is_empty() {
            format!("{} exited with {}", args.join(" "), out.status)
        } else {
            msg
        })
    }
}

/// Probes netns, netem and tbf (creates and deletes a namespace `proxylab-probe-PID`).
pub fn probe() -> Probe {
    let ns = format!("proxylab-probe-{}", std::process::id());
    let netns = run(&["ip", "netns", "add", &ns]);
    if let Err(e) = &netns {
        let why = format!("no network namespace ({e})");
        return Probe {
            netns: netns.clone(),
            netem: Err(why.clone()),
            tbf: Err(why),
        };
    }
    let tc = |qdisc: &[&str]| {
        let mut a = vec!["ip", "netns", "exec", &ns, "tc", "qdisc", "replace"];
        a.extend_from_slice(&["dev", "lo", "root"]);
        a.extend_from_slice(qdisc);
        run(&a)
    };
    let netem = tc(&["netem", "delay", "1ms"]);
    let tbf = tc(&[
        "tbf", "rate", "1mbit", "burst", "32kbit", "latency", "400ms",
    ]);
    let _ = run(&["ip", "netns", "del", &ns]);
    Probe { netns, netem, tbf }
}

/// Why `mode = "kernel"` is refused on this machine, with what the probe found.
pub fn refusal() -> String {
    let p = probe();
    let say = |r: &Result<(), String>| match r {
        Ok(()) => "available".to_string(),
        Err(e) => format!("unavailable: {e}"),
    };
    format!(
        "kernel mode is refused: this version carries every link fault in the user-space relay \
         and never swaps one for the other silently. Probe of this kernel: netns {}; netem \
         (delay/loss/reordering) {}; tbf (rate) {}. Remove `mode` (or set \"relay\") to use \
         the relay",
        say(&p.netns),
        say(&p.netem),
        say(&p.tbf)
    )
}
