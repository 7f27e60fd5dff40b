//! The command line: clap arguments, thin commands, rendering, diagnostics.

pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
