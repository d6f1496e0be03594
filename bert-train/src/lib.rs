//! # bert-train
//!
//! The command-line program of bert-burn and its library parts: backend
//! selection ([`backend`]) and inference ([`embed`]).

pub mod backend;
pub mod embed;
