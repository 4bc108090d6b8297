//! Plan validation: every rule that can be checked before a run, with one-line messages.

use super::{Behaviour, ConnectionPolicy, Load, Plan, Population, Protocol, Stage, Target};
use std::collections::HashSet;

/// Why a plan cannot run. Every message fits on one line.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// The file could not be read.
    #[error("cannot read plan: {0}")]
    Io(String),
    /// TOML syntax or an unknown / mistyped key.
    #[error("bad plan: {0}")]
    Syntax(String),
    /// A value that does not make sense.
    #[error("{0}")]
    Invalid(String),
}

fn inv(msg: String) -> PlanError {
    PlanError::Invalid(msg)
}

impl Plan {
    /// Checks the plan; the error names the population and key at fault.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.duration.get().is_zero() {
            return Err(inv("duration must be > 0".into()));
        }
        if self.max_requests == Some(0) {
            return Err(inv("max_requests must be > 0".into()));
        }
        if self.connect_timeout.get().is_zero() || self.request_timeout.get().is_zero() {
            return Err(inv("connect_timeout and request_timeout must be > 0".into()));
        }
        if self.populations.is_empty() {
            return Err(inv("a plan needs at least one [[population]]".into()));
        }
        if let Some(ca) = &self.tls.ca_file
            && !ca.is_file()
        {
            return Err(inv(format!(
                "tls.ca_file {} is not a readable file",
                ca.display()
            )));
        }
        let mut names = HashSet::new();
        for p in &self.populations {
            if !names.insert(p.name.as_str()) {
                return Err(inv(format!("population name {:?} used twice", p.name)));
            }
            self.validate_population(p)
                .map_err(|e| inv(format!("population {:?}: {e}", p.name)))?;
        }
        Ok(())
    }

    fn validate_population(&self, p: &Population) -> Result<(), PlanError> {
        if p.name.is_empty()
            || !p
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(inv("name must be letters, digits, '-' or '_'".into()));
        }
        let targets = self.targets_of(p);
        if targets.is_empty() {
            return Err(inv(
                "no targets (set `targets` in the plan or the population)".into(),
            ));
        }
        for t in targets {
            let t = Target::parse(t)?;
            match (self.protocol, t.tls) {
                (Protocol::H2, false) => {
                    return Err(inv(
                        "protocol h2 needs https:// targets (h2c for http://)".into()
                    ));
                }
                (Protocol::H2c, true) => {
                    return Err(inv(
                        "protocol h2c needs http:// targets (h2 for https://)".into()
                    ));
                }
                _ => {}
            }
        }
        if p.start.get() >= self.duration.get() {
            return Err(inv(format!(
                "start {} is not before the run's end {}",
                p.start, self.duration
            )));
        }
        if let Some(n) = p.source_addresses
            && !(1..=super::MAX_SOURCE_ADDRESSES).contains(&n)
        {
            return Err(inv(format!(
                "population {:?}: source_addresses must be 1..={} (got {n})",
                p.name,
                super::MAX_SOURCE_ADDRESSES
            )));
        }
        let bad_name = |n: &String| {
            n.is_empty()
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if p.record_headers.len() > super::MAX_RECORD_HEADERS
            || p.record_headers.iter().any(bad_name)
        {
            return Err(inv(format!(
                "population {:?}: record_headers takes at most {} header names (letters, digits, `-`)",
                p.name,
                super::MAX_RECORD_HEADERS
            )));
        }
        if p.duration.is_some_and(|d| d.get().is_zero()) || p.max_requests == Some(0) {
            return Err(inv("duration and max_requests must be > 0".into()));
        }
        match &p.load {
            Load::Open {
                stages,
                max_connections,
                ..
            } => {
                if stages.is_empty() {
                    return Err(inv("open loop needs at least one stage".into()));
                }
                for s in stages {
                    validate_stage(s)?;
                }
                if *max_connections == Some(0) {
                    return Err(inv("max_connections must be > 0".into()));
                }
            }
            Load::Closed { connections, .. } => {
                if *connections == 0 {
                    return Err(inv("closed loop needs connections > 0".into()));
                }
            }
        }
        if let ConnectionPolicy::KeepAlive {
            max_requests: Some(0),
        } = p.connection
        {
            return Err(inv("connection.max_requests must be > 0".into()));
        }
        if p.requests.is_empty() || p.requests.iter().all(|r| r.weight == 0) {
            return Err(inv("the request mix needs an entry with weight > 0".into()));
        }
        for r in &p.requests {
            http::Method::from_bytes(r.method.as_bytes())
                .map_err(|_| inv(format!("bad method {:?}", r.method)))?;
            if !r.path.starts_with('/') {
                return Err(inv(format!("path {:?} must start with '/'", r.path)));
            }
            if r.path.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(inv(format!(
                    "path {:?} contains spaces or control bytes",
                    r.path
                )));
            }
            for (k, v) in &r.headers {
                http::HeaderName::from_bytes(k.as_bytes())
                    .map_err(|_| inv(format!("bad header name {k:?}")))?;
                http::HeaderValue::from_str(v)
                    .map_err(|_| inv(format!("bad value for header {k:?}")))?;
            }
            if r.body_size.is_some() && r.body_file.is_some() {
                return Err(inv("body_size and body_file are exclusive".into()));
            }
            if let Some(f) = &r.body_file
                && !f.is_file()
            {
                return Err(inv(format!(
                    "body_file {} is not a readable file",
                    f.display()
                )));
            }
        }
        if self.protocol != Protocol::H1 && p.behaviour.needs_h1() {
            return Err(inv(format!(
                "behaviour {} speaks HTTP/1.1 only (protocol is {:?})",
                p.behaviour.name(),
                self.protocol
            )));
        }
        if self.protocol == Protocol::H1 && matches!(p.behaviour, Behaviour::H2Abuse { .. }) {
            return Err(inv(
                "behaviour h2_abuse speaks HTTP/2 only (set protocol = \"h2\" or \"h2c\")"
                    .to_string(),
            ));
        }
        if matches!(p.behaviour, Behaviour::TlsHello { .. })
            && self
                .targets_of(p)
                .iter()
                .any(|t| Target::parse(t).is_ok_and(|t| !t.tls))
        {
            return Err(inv("behaviour tls_hello needs https:// targets".to_string()));
        }
        validate_behaviour(&p.behaviour)
    }
}

fn validate_stage(s: &Stage) -> Result<(), PlanError> {
    for r in s.rates() {
        if !r.is_finite() || r < 0.0 {
            return Err(inv(format!("stage rate {r} must be finite and >= 0")));
        }
    }
    if s.duration().get().is_zero() {
        return Err(inv("stage duration must be > 0".into()));
    }
    match s {
        Stage::Step { steps: 0, .. } => Err(inv("step stage needs steps >= 1".into())),
        Stage::Spike {
            at, hold, duration, ..
        } if at.get() + hold.get() > duration.get() => Err(inv(format!(
            "spike at {at} + hold {hold} exceeds the stage duration {duration}"
        ))),
        _ => Ok(()),
    }
}

fn validate_behaviour(b: &Behaviour) -> Result<(), PlanError> {
    let positive = |what: &str, ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(inv(format!("{}: {what} must be > 0", b.name())))
        }
    };
    match b {
        Behaviour::Normal {} => Ok(()),
        Behaviour::SlowHeaders { interval, max_hold } => {
            positive("interval", !interval.get().is_zero())?;
            positive("max_hold", !max_hold.get().is_zero())
        }
        Behaviour::SlowBody {
            declared_bytes,
            chunk_bytes,
            interval,
            max_hold,
        } => {
            positive("declared_bytes", *declared_bytes > 0)?;
            positive("chunk_bytes", *chunk_bytes > 0)?;
            positive("interval", !interval.get().is_zero())?;
            positive("max_hold", !max_hold.get().is_zero())
        }
        Behaviour::SlowReader {
            bytes_per_sec,
            recv_buffer,
            max_hold,
        } => {
            positive("bytes_per_sec", *bytes_per_sec > 0)?;
            positive("recv_buffer", *recv_buffer > 0)?;
            positive("max_hold", !max_hold.get().is_zero())
        }
        Behaviour::LargeUpload { bytes } => positive("bytes", *bytes > 0),
        Behaviour::IdleHoarder { hold } | Behaviour::WsIdle { hold } => {
            positive("hold", !hold.get().is_zero())
        }
        Behaviour::WsChatty {
            messages_per_sec,
            message_bytes,
            hold,
        } => {
            positive(
                "messages_per_sec",
                messages_per_sec.is_finite() && *messages_per_sec > 0.0,
            )?;
            positive("message_bytes", *message_bytes > 0)?;
            positive("hold", !hold.get().is_zero())
        }
        Behaviour::ReconnectStorm { .. } | Behaviour::TlsHello { .. } => Ok(()),
        Behaviour::H2Abuse { hold, .. } => positive("hold", !hold.get().is_zero()),
    }
}
