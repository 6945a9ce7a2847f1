//! Whole projects on restricted runtimes: `docker compose build`/`up`/`create`/`run` and
//! `docker buildx bake`, built target by target through the routes `docker build` takes.
//!
//! The project is resolved by the tools' own printers (`docker compose build --print`,
//! `docker buildx bake --print`: [`crate::probe::project`] runs them), never by reading
//! YAML or HCL here: [`bake`] reads the printed definition into typed targets,
//! [`build_argv`] turns each into its `docker build` call, [`plan`] routes each through
//! [`crate::route::decide`] and orders them by their dependencies, [`compose_call`] reads
//! the user's call (where the subcommand and services are, `--build`/`--no-build`).
//! Running the plan is [`crate::exec`]'s job.

pub(crate) mod bake;
pub(crate) mod build_argv;
pub(crate) mod compose_call;
pub(crate) mod plan;
