//! The audit's one error type and its exit codes (2: the config cannot be read, 3: a component
//! did not start, 130: interrupted).

/// Why an audit stopped.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    /// The deployed config cannot be read or is refused (exit 2), worded as `nginx -t`.
    #[error("{msg}{}", at.as_ref().map(|(f, l)| format!(" in {f}:{l}")).unwrap_or_default())]
    Config {
        /// What is wrong.
        msg: String,
        /// The original file and line, when known.
        at: Option<(String, u32)>,
    },
    /// Bad command-line usage (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A component did not start, or the report could not be written (exit 3).
    #[error("{0}")]
    Component(String),
    /// Ctrl-C (exit 130).
    #[error("interrupted")]
    Interrupted,
}

impl AuditError {
    /// A config error at `file:line`.
    pub fn at(msg: impl Into<String>, file: &str, line: u32) -> AuditError {
        AuditError::Config {
            msg: msg.into(),
            at: Some((file.to_string(), line)),
        }
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            AuditError::Config { .. } | AuditError::Usage(_) => 2,
            AuditError::Component(_) => 3,
            AuditError::Interrupted => 130,
        }
    }
}

impl From<proxylab_proxy::conf::ConfError> for AuditError {
    fn from(e: proxylab_proxy::conf::ConfError) -> AuditError {
        AuditError::Config {
            msg: e.msg,
            at: e.at.map(|(f, l)| (f.to_string(), l)),
        }
    }
}
