//! Compact command-line syntax for rate stages (`--stage ramp:0:5000:10s`).

use super::{Dur, PlanError, Stage};

/// Parses one stage written as
/// `constant:RATE:DUR`, `ramp:FROM:TO:DUR`, `step:FROM:TO:STEPS:DUR` or
/// `spike:BASE:HEIGHT:AT:HOLD:DUR` (rates in req/s, durations humantime, e.g. `10s`).
pub fn parse_stage(s: &str) -> Result<Stage, PlanError> {
    let bad = |why: String| PlanError::Invalid(format!("bad stage {s:?}: {why}"));
    let parts: Vec<&str> = s.split(':').map(str::trim).collect();
    let rate = |i: usize| -> Result<f64, PlanError> {
        let v: f64 = parts[i]
            .parse()
            .map_err(|_| bad(format!("{:?} is not a rate (req/s)", parts[i])))?;
        if !v.is_finite() || v < 0.0 {
            return Err(bad(format!("rate {v} must be finite and >= 0")));
        }
        Ok(v)
    };
    let dur = |i: usize| -> Result<Dur, PlanError> { parts[i].parse::<Dur>().map_err(bad) };
    let want = |n: usize, form: &str| -> Result<(), PlanError> {
        if parts.len() == n {
            Ok(())
        } else {
            Err(bad(format!("expected {form}")))
        }
    };
    match parts[0] {
        "constant" => {
            want(3, "constant:RATE:DUR")?;
            Ok(Stage::Constant {
                rate: rate(1)?,
                duration: dur(2)?,
            })
        }
        "ramp" => {
            want(4, "ramp:FROM:TO:DUR")?;
            Ok(Stage::Ramp {
                from: rate(1)?,
                to: rate(2)?,
                duration: dur(3)?,
            })
        }
        "step" => {
            want(5, "step:FROM:TO:STEPS:DUR")?;
            let steps = parts[3]
                .parse()
                .map_err(|_| bad(format!("{:?} is not a step count", parts[3])))?;
            Ok(Stage::Step {
                from: rate(1)?,
                to: rate(2)?,
                steps,
                duration: dur(4)?,
            })
        }
        "spike" => {
            want(6, "spike:BASE:HEIGHT:AT:HOLD:DUR")?;
            Ok(Stage::Spike {
                base: rate(1)?,
                height: rate(2)?,
                at: dur(3)?,
                hold: dur(4)?,
                duration: dur(5)?,
            })
        }
        other => Err(bad(format!(
            "unknown shape {other:?} (constant, ramp, step, spike)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_shape() {
        assert_eq!(
            parse_stage("constant:2000:10s").unwrap(),
            Stage::Constant {
                rate: 2000.0,
                duration: Dur::secs(10)
            }
        );
        assert!(
            matches!(parse_stage("ramp:0:5000:1m").unwrap(), Stage::Ramp { to, .. } if to == 5000.0)
        );
        assert!(matches!(
            parse_stage("step:100:500:5:10s").unwrap(),
            Stage::Step { steps: 5, .. }
        ));
        assert!(matches!(
            parse_stage("spike:100:1000:2s:500ms:10s").unwrap(),
            Stage::Spike { hold, .. } if hold == Dur::millis(500)
        ));
    }

    #[test]
    fn rejects_bad_syntax() {
        for s in [
            "",
            "constant",
            "constant:x:10s",
            "constant:10:ten",
            "ramp:1:2",
            "wave:1:2s",
            "constant:-5:1s",
            "constant:NaN:1s",
            "step:1:2:x:1s",
        ] {
            assert!(parse_stage(s).is_err(), "{s}");
        }
    }
}
