//! Talking to local services directly: a small HTTP/1.1 client over unix and tcp sockets
//! ([`http`]), enough for the daemon probe and reachability checks.

pub mod http;
