//! Hermetic tests: the real controller loop against an in-process Kubernetes API double and the
//! product simulators, all in one binary.

mod looker;
mod openapi;
