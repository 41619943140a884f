//! The simulator kit: what every product simulator shares. It records requests, injects faults
//! (latency, forced statuses, a request budget answering 429 + Retry-After), enforces each
//! product's published rate limits when switched on, serves the admin routes, and offers the few
//! request and refusal helpers that are the same for every product.
//! Each product's simulator lives in its own folder (`providers/<name>/sim`), modelled on the
//! product's contract; the registry assembles them (`providers::Simulator`), which
//! `roleplane sim` serves under one path prefix per product and the tests run in-process.
//!
//! Admin endpoints (never rate limited or recorded), per product prefix `P`:
//! `GET P/_admin/state` (and product-specific edits), `GET P/_admin/requests`,
//! `DELETE P/_admin/requests`, `PUT P/_admin/faults` with a [`Faults`] body.
//!
//! - `traffic`: the request log and the faults;
//! - `serve`: the traits a simulator implements and the router the kit builds from them;
//! - `answer`: reading requests (headers, credentials, query, JSON body) and answering them
//!   (refusals, admin edits);
//! - `args`: how a product declares its `roleplane sim` flags;
//! - `published`: a product's published rate limits (declared by each product from its
//!   contract) and their enforcement per credential.

mod answer;
mod args;
mod published;
mod serve;
mod traffic;

pub use answer::{Answer, JsonBody, Params, Refusal, authorization, found, header};
pub use args::declared_defaults;
pub(crate) use args::sim_args;
pub use published::{PublishedLimits, PublishedWindow};
pub use serve::{ProductSim, Routes, Simulated, SingleApi, product_router, unexpected};
pub use traffic::{Faults, RateLimit, RecordedRequest, Traffic};
