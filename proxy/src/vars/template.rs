//! Compiled templates: literal bytes and variable references, parsed once (`$name`,
//! `${name}`), with nginx's compile errors.

use super::{Var, VarSource};

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal bytes.
    Lit(Box<[u8]>),
    /// A variable reference.
    Var(Var),
}

/// A string with variables, compiled once at config time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    /// The pieces in order.
    pub parts: Vec<Part>,
}

/// Template compile errors as nginx words them (the caller adds ` in FILE:LINE`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `$` not followed by a name.
    #[error("invalid variable name")]
    InvalidName,
    /// `${name` without `}`.
    #[error("the closing bracket in \"{0}\" variable is missing")]
    MissingBracket(String),
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Template {
    /// Compiles `s`.
    pub fn compile(s: &str) -> Result<Template, TemplateError> {
        let b = s.as_bytes();
        let mut parts = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'$' {
                lit.push(b[i]);
                i += 1;
                continue;
            }
            i += 1;
            let braced = b.get(i) == Some(&b'{');
            if braced {
                i += 1;
            }
            let start = i;
            if b.get(i).is_some_and(|c| c.is_ascii_digit()) {
                i += 1;
            } else {
                while i < b.len() && is_name_char(b[i]) {
                    i += 1;
                }
            }
            let name = &s[start..i];
            if braced {
                if b.get(i) != Some(&b'}') {
                    return Err(TemplateError::MissingBracket(name.to_string()));
                }
                i += 1;
            }
            if name.is_empty() {
                return Err(TemplateError::InvalidName);
            }
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit).into()));
            }
            parts.push(Part::Var(Var::from_name(name)));
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit.into()));
        }
        Ok(Template { parts })
    }

    /// A template holding only literal text.
    pub fn literal(s: &str) -> Template {
        Template {
            parts: if s.is_empty() {
                vec![]
            } else {
                vec![Part::Lit(s.as_bytes().into())]
            },
        }
    }

    /// True when the template has no variables.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// Appends the rendered template to `out`.
    pub fn render_into(&self, src: &dyn VarSource, out: &mut Vec<u8>) {
        for p in &self.parts {
            match p {
                Part::Lit(l) => out.extend_from_slice(l),
                Part::Var(v) => {
                    src.append_var(v, out);
                }
            }
        }
    }

    /// Renders into a new buffer.
    pub fn render(&self, src: &dyn VarSource) -> Vec<u8> {
        let mut out = Vec::new();
        self.render_into(src, &mut out);
        out
    }

    /// Every variable referenced.
    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v),
            Part::Lit(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_vars_and_literals() {
        let t = Template::compile("https://$server_name${request_uri}x").unwrap();
        assert_eq!(
            t.parts,
            vec![
                Part::Lit((*b"https://").into()),
                Part::Var(Var::ServerName),
                Part::Var(Var::RequestUri),
                Part::Lit((*b"x").into()),
            ]
        );
        assert_eq!(
            Template::compile("a$").unwrap_err(),
            TemplateError::InvalidName
        );
        assert_eq!(
            Template::compile("${host").unwrap_err().to_string(),
            "the closing bracket in \"host\" variable is missing"
        );
        assert_eq!(
            Template::compile("$http_x_real_ip").unwrap().parts,
            vec![Part::Var(Var::Http((*b"x-real-ip").into()))]
        );
    }
}
