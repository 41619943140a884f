//! Hermetic tests: the real controller loop against an in-process Kubernetes API double and the
//! product simulators, all in one binary.

mod bigpanda;
mod configcat;
mod examples;
mod harness;
mod kube_double;
mod kube_double_tests;
mod looker;
mod openapi;
mod process;
mod slashid;
mod statsig;
