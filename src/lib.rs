//! pinfra: provisions the AWS side of a Kafka-to-S3 streaming pipeline from one declarative plan.
//!
//! Flow: [`plan::parse`] → [`resources::for_plan`] → [`engine::Engine`] (observe, diff, apply).
//! See `docs/ARCHITECTURE.md` for the map.

// Text for a person goes through `printer::Printer`, which honours `-q` and a closed stdout.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod artifact;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod diagnostics;
pub mod engine;
pub mod lock;
pub mod logging;
pub mod network;
pub mod plan;
pub mod printer;
pub mod render;
pub mod resources;
pub mod retry;
pub mod saved_plan;
pub mod secrets;
pub mod settings;
pub mod terminal;
pub mod verify;
