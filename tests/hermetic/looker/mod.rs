//! Looker: the provider against the simulator (`provider`), and Roles through the real
//! controller loop (`scenarios`).

mod provider;
mod scenarios;
