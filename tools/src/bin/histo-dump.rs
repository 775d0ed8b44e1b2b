//! `histo-dump`: latency reports from HdrHistogram interval logs. See
//! `histo-dump --help` and `genesis_tools::histo_dump` for what it prints
//! and what its exit codes mean.

use std::process::ExitCode;

use clap::Parser as _;
use genesis_tools::histo_dump::{self, Args, EXIT_FATAL};

fn main() -> ExitCode {
    let args = Args::parse();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    match histo_dump::run(&args, &mut stdout, &mut stderr) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("histo-dump: {error:#}");
            ExitCode::from(EXIT_FATAL)
        }
    }
}
