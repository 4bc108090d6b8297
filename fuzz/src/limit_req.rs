//! limit_req zones and their slab: a list of operations (keys, clock steps, dry runs) read
//! from the input is run against two limits sharing a small zone. Invariants: no panic, the
//! zone never holds more nodes than its size allows, and an accepted request never leaves a
//! key's excess above its burst.

use proxylab_proxy::limit_req::{Delay, Limit, NODE_OVERHEAD, Rate, Zone, check};
use std::sync::Arc;

/// Input: byte 0 the rate, byte 1 the bursts, then operations of
/// `[flags, clock step, key length, key...]`.
pub fn run(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let size = 32 * 1024;
    let zone = Arc::new(Zone::new(
        "fuzz",
        size,
        Rate::per_second(1 + u64::from(data[0] % 50)),
    ));
    let limits = [
        Limit {
            zone: zone.clone(),
            burst: u32::from(data[1] & 7),
            delay: Delay::Never,
        },
        Limit {
            zone: zone.clone(),
            burst: u32::from(data[1] >> 5),
            delay: Delay::After(1),
        },
    ];
    let mut now = 0u64;
    let mut ops = &data[2..];
    while ops.len() >= 3 {
        let (flags, step, klen) = (ops[0], ops[1], usize::from(ops[2] % 24));
        ops = &ops[3..];
        let key = &ops[..klen.min(ops.len())];
        ops = &ops[key.len()..];
        now += u64::from(step) * 7;
        let (one, dry) = (flags & 1 == 1, flags & 2 == 2);
        let other: &[u8] = if flags & 4 == 4 { b"" } else { key };
        let keys: [&[u8]; 2] = [key, other];
        let lims = if one { &limits[..1] } else { &limits[..] };
        let decision = check(lims, &keys[..lims.len()], dry, now);
        assert!(
            zone.len() as u64 * NODE_OVERHEAD <= size,
            "zone over its size"
        );
        if let Some(d) = decision
            && !d.rejects()
            && !dry
            && let Some(e) = zone.excess_of(key)
        {
            let burst = i64::from(lims.iter().map(|l| l.burst).max().unwrap_or(0)) * 1000;
            assert!(e <= burst + 1000, "excess {e} above burst {burst}");
        }
    }
}
