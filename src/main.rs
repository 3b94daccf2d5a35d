use clap::Parser;

fn main() {
    let cli = harden::cli::Cli::parse();
    let code = match harden::cli::run(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
