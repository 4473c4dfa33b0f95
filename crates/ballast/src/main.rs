//! The `ballast` binary: the command line over the library crates (see docs/ARCHITECTURE.md). Only this crate
//! parses arguments, draws progress bars and turns typed errors into exit codes and messages.

mod cli;
mod inputs;
mod paper_venue;

fn main() -> std::process::ExitCode {
    cli::main()
}
