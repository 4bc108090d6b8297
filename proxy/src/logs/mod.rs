//! Logging: the access log (formats, escaping, `buffer=`/`flush=`), nginx-like error log lines,
//! and the time formats both use.

pub mod access;
pub mod error;
pub mod time;

pub use access::{AccessWriter, LogEscape, escape_into};
pub use error::{ErrorLog, LogLevel, os_error};
