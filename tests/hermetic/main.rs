//! Hermetic tests: the real controller loop against an in-process Kubernetes API double and the
//! product simulators, all in one binary.
//!
//! - `conformance`: the lifecycle every product shares, written once, run for each product;
//! - `controller`: the generic controller's own behaviour;
//! - one file per product for what only that product does;
//! - `scheduler`: per-credential budgets against the products' published limits, and circuits;
//! - `examples`, `process`: the shipped manifests and the binary;
//! - `kube_double_tests`: tests of the API server double (`crates/kube-double`).

mod bad_input;
mod bigpanda;
mod configcat;
mod conformance;
mod controller;
mod deletion;
mod diff;
mod examples;
mod guardrails;
mod harness;
mod import;
mod kube_double_tests;
mod looker;
mod openapi;
mod process;
mod scheduler;
mod secret_guard;
mod slashid;
mod statsig;
