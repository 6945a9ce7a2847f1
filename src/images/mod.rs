//! Images built on BuildKit where no Docker daemon keeps them (a BuildKit pod, a CI step
//! with no daemon): the record store ([`store`]) and the image commands dockroute
//! answers from it ([`commands`]). Which calls come here is decided in the pure core
//! ([`crate::route::image_routes`]); the records themselves are plain data
//! ([`crate::route::records`]).

pub(crate) mod commands;
pub mod store;
