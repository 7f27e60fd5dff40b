//! The `hoist` binary: parse arguments, run, print, exit with the error's code.

fn main() -> std::process::ExitCode {
    hoist::cli::main()
}
