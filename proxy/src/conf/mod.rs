//! nginx configuration: tokenizer ([`lexer`]), directive table ([`table`]), value parsers
//! ([`values`]), validation into typed settings ([`build`], [`model`]) with errors worded as
//! `nginx -t` ([`error`]).

pub mod body;
pub mod build;
pub mod cache;
pub mod cache_path;
pub mod error;
pub mod gzip;
pub mod health;
pub mod lexer;
pub mod model;
pub mod table;
pub mod values;

pub use build::{Loaded, load};
pub use error::ConfError;
pub use model::Config;
