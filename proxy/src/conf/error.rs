//! Configuration errors worded as `nginx -t` words them (`MESSAGE in FILE:LINE`).

use std::fmt;
use std::sync::Arc;

/// One configuration error: the message nginx would print after `[emerg]`, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfError {
    /// The message without location, e.g. `unknown directive "foo"`.
    pub msg: String,
    /// File and line (1-based) of the directive, when nginx names one.
    pub at: Option<(Arc<str>, u32)>,
}

impl ConfError {
    /// An error located at `file:line`.
    pub fn at(msg: impl Into<String>, file: &Arc<str>, line: u32) -> ConfError {
        ConfError {
            msg: msg.into(),
            at: Some((file.clone(), line)),
        }
    }

    /// An error nginx reports without a location (e.g. `unknown "x" variable`).
    pub fn global(msg: impl Into<String>) -> ConfError {
        ConfError {
            msg: msg.into(),
            at: None,
        }
    }
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some((file, line)) => write!(f, "{} in {}:{}", self.msg, file, line),
            None => f.write_str(&self.msg),
        }
    }
}
