//! `proxylab claims`: the claims ledger. Reads the article's claims (`scenarios/claims.toml`,
//! [`model`]), judges each on the latest sound run of the scenario that measures it
//! ([`runs`], [`verdict`], [`judge`]) and writes `docs/claims.md` ([`render`]) with the evidence
//! it cites copied under `docs/claims/` ([`evidence`]). [`resolve`] checks the ledger against
//! the scenario files without running anything and lists the runs it needs (`--run`).
//!
//! ```toml
//! [[claim]]
//! id = "pooling-30"
//! text = "a small pool of persistent upstream connections reduces CPU usage by up to 30 %"
//! article = "up to 30 %"                 # the article's own words: check limits come from them
//! subject = "nginx"                      # judged on real nginx (nginx | uvicorn | other)
//! scenario = "upstream-keepalive"        # scenarios/<scenario>.toml, reports/<scenario>/<run>/
//! variant = "nginx"                      # the judged variant (its `nginx+ci` runs count too)
//! ours = "base"                          # our proxy's run, shown beside (fidelity)
//! assertions = ["..."]                   # [[assert]] names that support the claim
//! refuted_by = ["..."]                   # [[assert]] names that encode its opposite
//! checks = [{ name = "CPU saved", value = "saving(components.unpooled.cpu_avg, components.pooled.cpu_avg)", op = ">=", limit = 30 }]
//! # words without a number: the check states how it reads them (a condition of the verdict)
//! # checks = [{ name = "…", value = "…", op = ">=", limit = 50, reading = "\"dramatically\" as at least halved" }]
//! conditions = ["`keepalive 16` in the upstream block (the article's has none)"]
//! measure = ["total.status.429", "spike p99 ms=phases.spike.latency_ms.p99"]
//! plot = "cpu"
//! depends = "on the per-request cost"    # printed with every verdict
//! note = "2 vCPUs, load generator on the same cores" # caveats, printed with every verdict
//! # or, instead of `scenario`: not_measurable = "a public CDN" / pending = "what is missing"
//! ```
//!
//! A `measure` entry is a dotted path into summary.json (or a check expression), optionally
//! labelled `label=path` (a label has no `.`); `assertions.NAME.actual` reaches an assertion's
//! measured value.

pub mod command;
pub mod evidence;
pub mod figures;
pub mod judge;
#[cfg(test)]
mod judge_tests;
pub mod model;
pub mod render;
pub mod resolve;
pub mod runs;
pub mod verdict;
#[cfg(test)]
mod verdict_tests;

pub use figures::{measure, measure_label};
pub use model::{Check, Claim, Ledger, Subject, Sweep, SweepPoint};
pub use verdict::{Verdict, verdict};
