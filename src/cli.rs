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
    /// Write Prometheus metrics (textfile collector format) to FILE after the run.
    #[arg(long, global = true, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// The audit log, a path under --root.
    #[arg(long, global = true, default_value = "/var/log/harden/audit.jsonl")]
    pub audit_log: String,
    /// Days an audit record is kept (dropped when the log rotates).
    #[arg(long, global = true, default_value_t = 90)]
    pub audit_retention_days: u64,
    /// Size in bytes at which the audit log rotates.
    #[arg(long, global = true, default_value_t = 10 * 1024 * 1024)]
    pub audit_max_size: u64,
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
pub enum LogFormat {
    Plain,
    Json,
}

fn parse_dur(s: &str) -> Result<Duration, String> {
    crate::agent::parse_duration(s)
}

/// An interval between runs: at least a second.
fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = crate::agent::parse_duration(s)?;
    if d < Duration::from_secs(1) {
        return Err(format!("interval '{s}' is too short: use at least 1s"));
    }
    Ok(d)
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
        /// Save the plan, with the sha256 of every file read, for `harden apply FILE`.
        #[arg(long, value_name = "PLANFILE")]
        out: Option<PathBuf>,
    },
    /// Apply the profile (or a saved plan): change only what differs, then verify nothing is left.
    Apply {
        /// A plan saved with `plan --out`: applied exactly, refused if anything changed since.
        #[arg(value_name = "PLANFILE", conflicts_with = "profile", required_unless_present = "profile")]
        plan: Option<PathBuf>,
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Write even for a ufw version whose file format is not verified.
        #[arg(long)]
        force: bool,
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
    /// Run `check` on a schedule (and with --remediate, apply on drift); logs each run.
    Agent {
        #[arg(long)]
        profile: PathBuf,
        /// Time between runs: 90s, 15m, 2h.
        #[arg(long, default_value = "15m", value_parser = parse_interval)]
        interval: Duration,
        /// Up to this much extra wait, at random, so a fleet does not run in step.
        #[arg(long, default_value = "0s", value_parser = parse_dur)]
        jitter: Duration,
        /// Apply the plan when drift is found (never a plan apply would refuse).
        #[arg(long)]
        remediate: bool,
        /// Log lines as plain text (journald) or JSON.
        #[arg(long, value_enum, default_value_t = LogFormat::Plain)]
        log_format: LogFormat,
    },
    /// Write the systemd units (check service + timer, agent service) under --root.
    InstallUnits {
        #[arg(long)]
        profile: PathBuf,
        /// The harden binary the units run (default: this one).
        #[arg(long)]
        bin: Option<PathBuf>,
        #[arg(long, default_value = "15m")]
        interval: String,
        #[arg(long, default_value = "2m")]
        jitter: String,
        /// The agent unit remediates (and is sandboxed less, as it must write).
        #[arg(long)]
        remediate: bool,
        /// The metrics file the units write (node_exporter's textfile directory).
        #[arg(long, default_value = "/var/lib/node_exporter/textfile_collector/harden.prom")]
        metrics_file: PathBuf,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff), generated from these definitions.
    Man,
}

impl Cli {
    /// The command asked for JSON: errors are then reported as JSON too.
    pub fn json_output(&self) -> bool {
        match &self.command {
            Cmd::Plan { format, .. } | Cmd::Apply { format, .. } | Cmd::Check { format, .. } => *format == Format::Json,
            Cmd::Show { format } => *format == ShowFormat::Json,
            Cmd::Completions { .. } | Cmd::Man | Cmd::Agent { .. } | Cmd::InstallUnits { .. } => false,
        }
    }
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

fn init_tracing(verbose: u8, quiet: bool, color: bool) {
    let level = if quiet {
        "error"
    } else {
        match verbose {
            0 | 1 => "warn",
            2 => "debug",
            _ => "trace",
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_env_filter(level)
        .without_time()
        .try_init();
}

fn print(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

/// Run the command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    match &cli.command {
        Cmd::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "harden", &mut std::io::stdout());
            return Ok(0);
        }
        Cmd::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            print(&String::from_utf8_lossy(&out));
            return Ok(0);
        }
        _ => {}
    }
    let style = Style { color: color_on(cli.color), verbose: cli.verbose > 0 };
    if !matches!(cli.command, Cmd::Agent { .. }) {
        init_tracing(cli.verbose, cli.quiet, style.color);
    }
    if !cli.root.exists() {
        bail!("--root {}: no such directory", cli.root.display());
    }
    if !cli.root.is_dir() {
        bail!("--root {}: not a directory", cli.root.display());
    }
    let mut sys = System::real(&cli.root);
    // These plan once and exit; apply plans several times, and the agent runs for good.
    crate::system::set_one_shot(matches!(cli.command, Cmd::Plan { .. } | Cmd::Check { .. } | Cmd::Show { .. }));
    let audit = crate::audit::AuditLog::new(&sys, &cli.audit_log, cli.audit_retention_days, cli.audit_max_size);
    // The agent writes metrics after each of its runs; it must not clear them when it stops.
    let metrics = if matches!(cli.command, Cmd::Agent { .. }) { None } else { cli.metrics.clone() };
    let mut last_plan: Option<crate::plan::Plan> = None;
    let result = dispatch(cli, &mut sys, &style, &audit, &mut last_plan);
    if let Some(m) = metrics {
        let ok = matches!(result, Ok(c) if c != 1);
        if let Err(e) = crate::metrics::write(&m, last_plan.as_ref(), ok) {
            eprintln!("warning: {e:#}");
        }
    }
    result
}

fn dispatch(
    cli: Cli,
    sys: &mut System,
    style: &Style,
    audit: &crate::audit::AuditLog,
    last_plan: &mut Option<crate::plan::Plan>,
) -> Result<i32> {
    match cli.command {
        Cmd::Plan { profile, format, out } => {
            if let Some(o) = &out {
                if std::fs::canonicalize(o).ok().is_some_and(|c| std::fs::canonicalize(&profile).ok() == Some(c)) {
                    bail!("--out {} is the profile itself; give another file", o.display());
                }
                sys.record_reads();
            }
            let prof = profile::load(&profile)?;
            let plan = engine::plan(sys, &prof)?;
            if let Some(out) = &out {
                crate::saved::save(out, sys, &prof, &plan)?;
                if !cli.quiet && format == Format::Human {
                    eprintln!("plan saved to {}; apply it with `harden apply {}`", out.display(), out.display());
                }
            }
            match format {
                Format::Human => {
                    if !cli.quiet {
                        print(&render::plan_human(&plan, style, false))
                    }
                }
                Format::Json => {
                    print(&format!("{}\n", serde_json::to_string_pretty(&render::plan_json(&plan, false))?))
                }
            }
            let code = if plan.has_changes() { 2 } else { 0 };
            // `plan` is one-shot: the process ends next, and freeing a plan of thousands of
            // sites piece by piece would only delay the exit.
            std::mem::forget(plan);
            Ok(code)
        }
        Cmd::Check { profile, format } => {
            let prof = profile::load(&profile)?;
            let plan = engine::plan(sys, &prof)?;
            match format {
                Format::Human => {
                    if !cli.quiet {
                        print(&render::plan_human(&plan, style, true))
                    }
                }
                Format::Json => print(&format!("{}\n", serde_json::to_string_pretty(&render::plan_json(&plan, true))?)),
            }
            let drift = plan.has_changes() || plan.findings().next().is_some();
            if drift {
                // The one write check makes: a record that drift was found.
                if let Err(e) = audit.append(&crate::audit::drift_records(&plan, &prof.host.tenant)) {
                    eprintln!("warning: {e}");
                }
            }
            *last_plan = Some(plan);
            Ok(if drift { 2 } else { 0 })
        }
        Cmd::Apply { plan: planfile, profile, yes, allow_lockout, force, format, lock_timeout } => {
            let _lock = crate::lock::acquire(sys, Duration::from_secs(lock_timeout))?;
            let (prof, plan) = match (&planfile, &profile) {
                (Some(pf), _) => {
                    let saved = crate::saved::load(pf)?;
                    crate::saved::verify(&saved, sys, pf)?;
                    let prof = profile::load(std::path::Path::new(&saved.plan.profile))?;
                    // The file is not trusted: the profile and the unchanged inputs
                    // must give the same plan again, and that fresh plan is applied
                    // (with the lockout guard judged for whoever applies it now).
                    let fresh = engine::plan(sys, &prof)?;
                    crate::saved::same_plan(&saved.plan, &fresh, pf)?;
                    (prof, fresh)
                }
                (None, Some(p)) => {
                    let prof = profile::load(p)?;
                    let plan = engine::plan(sys, &prof)?;
                    (prof, plan)
                }
                (None, None) => bail!("give a saved plan file or --profile"),
            };
            if format == Format::Human && !cli.quiet {
                print(&render::plan_human(&plan, style, false));
            }
            if let Some(b) = plan.blocked() {
                bail!("{b}. Nothing was changed.");
            }
            if !plan.has_changes() {
                if format == Format::Json {
                    print(&format!("{}\n", serde_json::to_string_pretty(&engine::ApplyReport::new(&plan))?));
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
            // No change without a record of it: the log must take writes first.
            let opts = ApplyOptions { audit: Some(audit), allow_lockout, force, saved: planfile.is_some() };
            let report = engine::apply(sys, &plan, &prof, &opts)?;
            if let Err(e) = audit.append(&crate::audit::apply_records(&report, &prof.host.tenant)) {
                eprintln!("error: {e}");
            }
            *last_plan = Some(plan.clone());
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
        Cmd::Completions { .. } | Cmd::Man => unreachable!("handled before the root is read"),
        Cmd::InstallUnits { profile, bin, interval, jitter, remediate, metrics_file } => {
            // The units run with / as working directory: every path absolute.
            let metrics_file = std::path::absolute(&metrics_file)?;
            parse_interval(&interval).map_err(anyhow::Error::msg)?;
            crate::agent::parse_duration(&jitter).map_err(anyhow::Error::msg)?;
            let prof = std::path::absolute(&profile)?;
            let bin = match bin {
                Some(b) => b,
                None => std::env::current_exe().context("finding this binary")?,
            };
            let params = crate::units::UnitParams {
                bin: bin.display().to_string(),
                profile: prof.display().to_string(),
                interval,
                jitter,
                remediate,
                metrics_dir: metrics_file.parent().map(|d| d.display().to_string()).unwrap_or_else(|| "/".into()),
                metrics: metrics_file.display().to_string(),
                audit_log: cli.audit_log.clone(),
                audit_dir: std::path::Path::new(&cli.audit_log)
                    .parent()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|| "/".into()),
            };
            // The units' Documentation= names the man page: install it too.
            let mut man = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut man)?;
            sys.write_atomic("/usr/local/share/man/man1/harden.1", &man, 0o644)?;
            for p in crate::units::install(sys, &params)? {
                if !cli.quiet {
                    println!("wrote {p}");
                }
            }
            if !cli.quiet {
                println!("enable with: systemctl daemon-reload && systemctl enable --now harden-check.timer  (or harden-agent.service)");
            }
            Ok(0)
        }
        Cmd::Agent { profile, interval, jitter, remediate, log_format } => {
            let builder = tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_env_filter(if cli.verbose > 1 { "debug" } else { "info" });
            let _ = match log_format {
                LogFormat::Json => builder.json().try_init(),
                LogFormat::Plain => builder.try_init(),
            };
            let sys = System::real(&cli.root);
            let audit = crate::audit::AuditLog::new(&sys, &cli.audit_log, cli.audit_retention_days, cli.audit_max_size);
            crate::agent::run(
                sys,
                crate::agent::AgentOptions { profile, interval, jitter, remediate, metrics: cli.metrics.clone() },
                audit,
            )
        }
        Cmd::Show { format } => {
            let t = engine::show(sys)?;
            let caddy = engine::show_caddy(sys)?;
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
