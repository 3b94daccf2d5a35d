use clap::Parser;

// A plan of a large Caddyfile makes hundreds of thousands of small allocations; mimalloc makes
// them about twice as cheap as glibc's malloc (bench/caddy.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Usage errors exit 1, not clap's 2: 2 means "changes pending or drift".
    let cli = match harden::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let json = cli.json_output();
    let code = match harden::cli::run(cli) {
        Ok(c) => c,
        Err(e) => {
            if json {
                let v = serde_json::json!({
                    "schema_version": harden::plan::SCHEMA_VERSION,
                    "kind": "error",
                    "error": format!("{e:#}"),
                });
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
