//! Health-check configuration (nginx Plus's `health_check` and `match {}`): the parameters
//! ([`params`]), the response rules ([`matcher`]), and the reader's hooks: `match {}` blocks
//! collected from `http`, every `health_check` validated where it is written, and `match=`
//! names resolved at the end. The checks themselves run in the `health` module.

mod matcher;
mod params;

pub use matcher::{MatchBlock, default_ok, parse_match};
pub use params::HealthParams;

use super::ConfError;
use super::lexer::Directive;
use std::sync::Arc;

/// What the reader collects for health checks while walking a config.
#[derive(Debug, Default)]
pub struct HealthConf {
    matches: Vec<Arc<MatchBlock>>,
    refs: Vec<(String, Directive)>,
}

impl HealthConf {
    /// Records a `match NAME {}` block (duplicate names are an error).
    pub fn add_match(&mut self, d: &Directive) -> Result<(), ConfError> {
        let m = parse_match(d)?;
        if self.matches.iter().any(|o| o.name == m.name) {
            return Err(ConfError::at(
                format!("duplicate match \"{}\"", m.name),
                &d.file,
                d.line,
            ));
        }
        self.matches.push(Arc::new(m));
        Ok(())
    }

    /// Validates a `health_check` directive's parameters.
    pub fn check(&mut self, d: &Directive) -> Result<(), ConfError> {
        let p = HealthParams::parse(&d.args).map_err(|m| ConfError::at(m, &d.file, d.line))?;
        if let Some(n) = p.match_name {
            self.refs.push((n, d.clone()));
        }
        Ok(())
    }

    /// The match blocks, once every `match=` name is known to exist.
    pub fn finish(&self) -> Result<Vec<Arc<MatchBlock>>, ConfError> {
        for (n, d) in &self.refs {
            if !self.matches.iter().any(|m| &m.name == n) {
                return Err(ConfError::at(
                    format!("match \"{n}\" not found"),
                    &d.file,
                    d.line,
                ));
            }
        }
        Ok(self.matches.clone())
    }
}
