//! Support for the malformed-request corpus test: the case files ([`cases`]), the recording
//! upstream ([`recorder`]) and the client that sends a case and reads the answer ([`probe`]).

pub mod cases;
pub mod probe;
pub mod recorder;
