//! Command line (clap) and the top-level dispatch with exit codes:
//! 0 ok / in sync, 2 changes pending or drift, 1 error.
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use crate::engine::{self, ApplyOptions};
use crate::profile;
use crate::render::{self, Style};
use crate::system::System;

#[derive(Parser, Debug)]
#[command(
    name = "harden",
    version,
    about = "Declarative hardening of Linux servers: plan, apply and check a host profile"
)]
pub struct Cli {
    /// Filesystem root that every path is read and written under.
    #[arg(long, global = true, default_value = "/")]
    pub root: PathBuf,
    /// More detail (file diffs; -vv for debug logs).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Colour output: auto honours NO_COLOR and non-terminal output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum ShowFormat {
    Toml,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Show what apply would change (read only). Exit 2 when changes are pending.
    Plan {
        #[arg(long)]
        profile: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Apply the profile: change only what differs, then verify nothing is left.
    Apply {
        #[arg(long)]
        profile: PathBuf,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Apply even if the plan would deny incoming SSH.
        #[arg(long)]
        allow_lockout: bool,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Seconds to wait for another harden to finish.
        #[arg(long, default_value_t = 60)]
        lock_timeout: u64,
    },
    /// Detect drift (read only). Exit 2 when the host differs from the profile.
    Check {
        #[arg(long)]
        profile: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Print the observed state as a profile.
    Show {
        #[arg(long, value_enum, default_value_t = ShowFormat::Toml)]
        format: ShowFormat,
    },
}

fn color_on(c: ColorChoice) -> bool {
    match c {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
        }
    }
}

fn init_tracing(verbose: u8, quiet: bool) {
    let level = if quiet {
        "error"
    } else {
        match verbose {
            0 | 1 => "warn",
            2 => "debug",
            _ => "trace",
        }
    };
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(level).without_time().try_init();
}

fn print(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

/// Run the command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    init_tracing(cli.verbose, cli.quiet);
    let style = Style { color: color_on(cli.color), verbose: cli.verbose > 0 };
    if !cli.root.is_dir() {
        bail!("--root {}: not a directory", cli.root.display());
    }
    let sys = System::real(&cli.root);
    match cli.command {
        Cmd::Plan { profile, format } | Cmd::Check { profile, format } if false => {
            let _ = (profile, format);
            unreachable!()
        }
        Cmd::Plan { profile, format } => {
            let prof = profile::load(&profile)?;
            let plan = engine::plan(&sys, &prof)?;
            match format {
                Format::Human => {
                    if !cli.quiet {
                        print(&render::plan_human(&plan, &style, false))
                    }
                }
                Format::Json => {
                    print(&format!("{}\n", serde_json::to_string_pretty(&render::plan_json(&plan, false))?))
                }
            }
            Ok(if plan.has_changes() { 2 } else { 0 })
        }
        Cmd::Check { profile, format } => {
            let prof = profile::load(&profile)?;
            let plan = engine::plan(&sys, &prof)?;
            match format {
                Format::Human => {
                    if !cli.quiet {
                        print(&render::plan_human(&plan, &style, true))
                    }
                }
                Format::Json => print(&format!("{}\n", serde_json::to_string_pretty(&render::plan_json(&plan, true))?)),
            }
            Ok(if plan.has_changes() || plan.findings().next().is_some() { 2 } else { 0 })
        }
        Cmd::Apply { profile, yes, allow_lockout, format, lock_timeout } => {
            let prof = profile::load(&profile)?;
            let _lock = crate::lock::acquire(&sys, Duration::from_secs(lock_timeout))?;
            let plan = engine::plan(&sys, &prof)?;
            if format == Format::Human && !cli.quiet {
                print(&render::plan_human(&plan, &style, false));
            }
            if !plan.has_changes() {
                if format == Format::Json {
                    print(&format!(
                        "{}\n",
                        serde_json::to_string_pretty(&engine::ApplyReport {
                            schema_version: crate::plan::SCHEMA_VERSION,
                            ..Default::default()
                        })?
                    ));
                }
                return Ok(0);
            }
            if !yes {
                if !std::io::stdin().is_terminal() {
                    bail!("refusing to apply without --yes: standard input is not a terminal, so nobody can confirm the plan");
                }
                eprint!("Apply these changes? Type 'yes' to continue: ");
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer).context("reading the answer")?;
                if answer.trim() != "yes" {
                    eprintln!("Not applied.");
                    return Ok(1);
                }
            }
            let report = engine::apply(&sys, &plan, &prof, &ApplyOptions { allow_lockout })?;
            match format {
                Format::Json => print(&format!("{}\n", serde_json::to_string_pretty(&report)?)),
                Format::Human => {
                    for r in &report.resources {
                        if let Some(f) = &r.failed {
                            eprintln!("error: {}: {f}", r.resource);
                        } else if !r.changed.is_empty() && !cli.quiet {
                            print(&format!(
                                "{}: applied {} change(s){}\n",
                                r.resource,
                                r.changed.len(),
                                r.backup.as_ref().map(|b| format!("; previous files saved in {b}")).unwrap_or_default()
                            ));
                        }
                        for n in &r.notes {
                            if !cli.quiet {
                                print(&format!("note: {n}\n"));
                            }
                        }
                    }
                    if !report.remaining.is_empty() {
                        eprintln!("error: after apply the plan is not empty:");
                        for c in &report.remaining {
                            eprintln!("  {c}");
                        }
                    }
                }
            }
            Ok(if report.failed() { 1 } else { 0 })
        }
        Cmd::Show { format } => {
            let t = engine::show(&sys)?;
            let caddy = engine::show_caddy(&sys)?;
            match format {
                ShowFormat::Toml => {
                    let host = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
                    print(&format!(
                        "# Observed by harden show on {host} (root {})\n{}",
                        cli.root.display(),
                        toml::to_string(&t)?
                    ));
                    if let Some(c) = &caddy {
                        print(&c.toml);
                    }
                }
                ShowFormat::Json => {
                    let mut v = serde_json::to_value(&t)?;
                    if let (Some(c), Some(obj)) = (caddy, v.as_object_mut()) {
                        obj.insert("caddy".into(), c.json);
                    }
                    print(&format!("{}\n", serde_json::to_string_pretty(&v)?))
                }
            }
            Ok(0)
        }
    }
}
