//! The `maskgate` command: its arguments, and which of the library's entry points they call —
//! the tray app, the headless server (`--headless`), a dry run of the masking
//! (`maskgate mask`), `maskgate run -- claude`, `maskgate doctor` and `maskgate learn`.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use maskgate::headless;
use maskgate::mask::{mask_json, mask_text};
use maskgate::proxy;
use maskgate::settings::{self, AnthropicKey, GatewayAuth, Secrets, Settings};

/// mimalloc keeps the pages of freed buffers for the next request; with the system allocator a
/// 1 MB body's buffers went back to the kernel after each request and every page faulted in
/// again on the next (a fifth of the masking time, see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Masks AWS identifiers in Claude Code's API traffic and restores them in the answers.
///
/// Point Claude Code at it with ANTHROPIC_BASE_URL=http://127.0.0.1:8082.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Serve the proxy without the desktop app, logging to stderr.
    #[arg(long)]
    headless: bool,
    /// Desktop app: open the dashboard window at start instead of only the tray icon.
    #[arg(long)]
    open: bool,
    /// With --headless: also serve the dashboard to a browser, on --dashboard-listen, behind
    /// a token printed at start (or taken from MASKGATE_DASHBOARD_TOKEN).
    #[arg(long, requires = "headless")]
    dashboard: bool,
    /// Loopback address for --dashboard.
    #[arg(long, default_value = maskgate::dashboard::DEFAULT_LISTEN)]
    dashboard_listen: SocketAddr,
    /// Address to listen on (loopback unless you mean otherwise).
    #[arg(long, env = "MASKGATE_LISTEN")]
    listen: Option<SocketAddr>,
    /// Where masked requests go: the Anthropic API or a Kong route (path prefix kept).
    #[arg(long, env = "MASKGATE_UPSTREAM")]
    upstream: Option<String>,
    /// Settings file (TOML) [default: the platform config dir, e.g. ~/.config/maskgate/config.toml].
    #[arg(long, env = "MASKGATE_CONFIG")]
    config: Option<PathBuf>,
    /// How to authenticate to the gateway; the secret comes from MASKGATE_GATEWAY_SECRET or --gateway-secret-file.
    #[arg(long, value_enum)]
    gateway_auth: Option<GatewayAuth>,
    /// Header that carries the key for --gateway-auth key [default: apikey].
    #[arg(long)]
    gateway_key_header: Option<String>,
    /// User name for --gateway-auth basic.
    #[arg(long)]
    gateway_user: Option<String>,
    /// File holding the gateway secret (key, token or password).
    #[arg(long, env = "MASKGATE_GATEWAY_SECRET_FILE")]
    gateway_secret_file: Option<PathBuf>,
    /// Whose Anthropic key is used: the client's (pass-through) or one the gateway injects.
    #[arg(long, value_enum)]
    anthropic_key: Option<AnthropicKey>,
    /// Extra CA certificate (PEM) to trust for the gateway.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Serve the listener over TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "MASKGATE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) for --tls-cert.
    #[arg(long, env = "MASKGATE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// With --headless: also serve Prometheus metrics alone at GET /metrics on this address,
    /// with no token (for annotation-driven scraping; limit who reaches it).
    #[arg(long, env = "MASKGATE_METRICS_LISTEN", requires = "headless")]
    metrics_listen: Option<SocketAddr>,
    /// Also accept requests whose Host is this name (for deployments behind a load balancer).
    #[arg(long)]
    allow_host: Vec<String>,
    /// Append one masked-only JSON line per exchange to this file.
    #[arg(long)]
    audit_log: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print input masked (a dry run: nothing is sent anywhere).
    Mask {
        /// File to read [default: standard input].
        file: Option<PathBuf>,
        /// Treat the input as an Anthropic request body (JSON).
        #[arg(long)]
        json: bool,
        /// Print the findings per category as JSON to stderr.
        #[arg(long)]
        report: bool,
    },
    /// Run COMMAND (usually `claude`) through maskgate: the one serving on the configured
    /// address, or one served by this process until COMMAND exits. Sets ANTHROPIC_BASE_URL,
    /// CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 and the local token header; exits with
    /// COMMAND's status.
    Run {
        /// The command and its arguments (put `--` before them).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<std::ffi::OsString>,
    },
    /// Check that Claude Code in this shell really goes through maskgate; one line per
    /// check, with the fix for each that fails. Exits 1 if any fails.
    Doctor,
    /// Exit 0 when a maskgate serves on this machine at the configured port, else 1: the
    /// container's health check (no shell needed). Asks 127.0.0.1, sends no token, asks no
    /// upstream.
    Health,
    /// Ask the running maskgate (on --listen, or the configured address) to learn the names
    /// of your AWS resources with your own `aws` CLI: read-only listing calls, names kept in
    /// its memory for this session and masked wherever they appear. Prints counts, not names.
    Learn {
        /// The AWS CLI profile to list with [default: the CLI's own choice].
        #[arg(long)]
        profile: Option<String>,
    },
}

/// Hands the pages mimalloc keeps for later back to the system (after the journal is cleared).
#[allow(unsafe_code)]
fn release_memory() {
    // SAFETY: mi_collect has no preconditions; any thread may call it at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    maskgate::journal::set_memory_release(release_memory);
    // Every client connection holds a descriptor: the common soft limit of 1024 is reached
    // long before the connection cap. The hard limit is the most a process may ask for.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let config_path = match &cli.config {
        Some(path) => path.clone(),
        None => settings::default_path()?,
    };
    let mut settings = Settings::load(&config_path)?;
    cli.apply_to(&mut settings);
    match &cli.command {
        Some(Command::Mask { file, json, report }) => {
            run_mask(&settings, file.as_deref(), *json, *report)
        }
        Some(Command::Learn { profile }) => run_learn(&settings, profile.as_deref()),
        Some(Command::Run { command }) => {
            let secrets = headless_secrets(cli.gateway_secret_file.as_deref())?;
            init_logging();
            let runtime = tokio::runtime::Runtime::new()?;
            let status = runtime.block_on(maskgate::launch::run(
                config_path,
                settings,
                secrets,
                command.clone(),
            ))?;
            std::process::exit(maskgate::launch::exit_code(status));
        }
        Some(Command::Doctor) => run_doctor(&settings),
        Some(Command::Health) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let token = std::env::var("MASKGATE_LOCAL_TOKEN").ok();
            match runtime.block_on(maskgate::local::serving_here(&settings, token)) {
                Ok(version) => println!(
                    "maskgate {version} serves on port {}",
                    settings.listen.port()
                ),
                Err(reason) => {
                    eprintln!("maskgate: {reason}");
                    std::process::exit(1);
                }
            }
            Ok(())
        }
        None if cli.headless => run_headless(config_path, settings, &cli, cli.dashboard),
        None => run_app(config_path, settings, &cli),
    }
}

/// The tray app where there is a display; the proxy alone where there is none.
#[cfg(feature = "desktop")]
fn run_app(config_path: PathBuf, settings: Settings, cli: &Cli) -> anyhow::Result<()> {
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if !has_display {
        eprintln!("maskgate: no display found; serving the proxy headless");
        return run_headless(config_path, settings, cli, false);
    }
    init_logging();
    maskgate::desktop::run(config_path, settings, cli.open)
}

#[cfg(not(feature = "desktop"))]
fn run_app(config_path: PathBuf, settings: Settings, cli: &Cli) -> anyhow::Result<()> {
    eprintln!("maskgate: built without the desktop app; serving the proxy headless");
    run_headless(config_path, settings, cli, false)
}

fn run_headless(
    settings_path: PathBuf,
    settings: Settings,
    cli: &Cli,
    with_dashboard: bool,
) -> anyhow::Result<()> {
    init_logging();
    let dashboard = with_dashboard
        .then(|| -> anyhow::Result<_> {
            Ok(headless::DashboardOptions {
                listen: cli.dashboard_listen,
                token: dashboard_token()?,
            })
        })
        .transpose()?;
    let options = headless::Options {
        settings_path,
        settings,
        secrets: headless_secrets(cli.gateway_secret_file.as_deref())?,
        dashboard,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(headless::run(options, headless::shutdown_signal()))?;
    Ok(())
}

fn init_logging() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "maskgate=info".into()),
        )
        .init();
}

impl Cli {
    /// Command-line flags win over the settings file.
    fn apply_to(&self, settings: &mut Settings) {
        if let Some(listen) = self.listen {
            settings.listen = listen;
        }
        if let Some(upstream) = &self.upstream {
            settings.upstream_url = upstream.clone();
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            settings.tls = Some(maskgate::settings::ListenerTls {
                cert: cert.clone(),
                key: key.clone(),
            });
        }
        if let Some(address) = self.metrics_listen {
            settings.metrics_listen = Some(address);
        }
        let gateway = &mut settings.gateway;
        if let Some(auth) = self.gateway_auth {
            gateway.auth = auth;
        }
        if let Some(header) = &self.gateway_key_header {
            gateway.key_header = header.clone();
        }
        if let Some(user) = &self.gateway_user {
            gateway.basic_user = user.clone();
        }
        if let Some(mode) = self.anthropic_key {
            gateway.anthropic_key = mode;
        }
        if let Some(ca) = &self.ca_file {
            gateway.ca_file = Some(ca.clone());
        }
        settings
            .allowed_hosts
            .extend(self.allow_host.iter().cloned());
        if let Some(path) = &self.audit_log {
            settings.audit_log = Some(path.clone());
        }
    }
}

/// Headless secrets: the environment, or a file for the gateway secret.
fn headless_secrets(secret_file: Option<&std::path::Path>) -> anyhow::Result<Secrets> {
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let gateway_secret = match secret_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the gateway secret from {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        None => from_env("MASKGATE_GATEWAY_SECRET"),
    };
    Ok(Secrets {
        gateway_secret,
        local_token: from_env("MASKGATE_LOCAL_TOKEN"),
        ..Secrets::default()
    })
}

/// `maskgate learn`: asks the maskgate serving on `settings.listen` to learn, and prints what
/// it learned per category.
fn run_learn(settings: &Settings, profile: Option<&str>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = maskgate::local::Local::new(settings, std::env::var("MASKGATE_LOCAL_TOKEN").ok())?;
    let answer: serde_json::Value = runtime.block_on(async {
        // Listing every service of an account with the `aws` CLI takes a while.
        let mut request = local
            .request(reqwest::Method::POST, "/_maskgate/learn")
            .timeout(std::time::Duration::from_secs(600));
        if let Some(profile) = profile {
            request = request.query(&[("profile", profile)]);
        }
        let response = request.send().await.map_err(|e| {
            anyhow::anyhow!(
                "no maskgate answers on {}: start the tray app or `maskgate --headless` ({e})",
                settings.listen
            )
        })?;
        let status = response.status();
        let body: serde_json::Value = serde_json::from_slice(&response.bytes().await?)?;
        if !status.is_success() {
            anyhow::bail!(
                "{}",
                body["error"]["message"]
                    .as_str()
                    .unwrap_or("learning failed")
            );
        }
        Ok::<_, anyhow::Error>(body)
    })?;
    let learned = answer["learned"].as_object().cloned().unwrap_or_default();
    let total: u64 = learned.values().filter_map(serde_json::Value::as_u64).sum();
    println!("learned {total} names, masked from the next request on (in memory only):");
    for (kind, count) in &learned {
        println!("  {kind}: {count}");
    }
    for failed in answer["failed"].as_array().into_iter().flatten() {
        println!("  not listed: {}", failed.as_str().unwrap_or_default());
    }
    Ok(())
}

/// `maskgate doctor`: prints every check; exits 1 when one fails.
fn run_doctor(settings: &Settings) -> anyhow::Result<()> {
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let local = maskgate::local::Local::new(settings, std::env::var("MASKGATE_LOCAL_TOKEN").ok())?;
    let claude_settings = maskgate::settings::claude_code::default_path();
    let setup = maskgate::doctor::Setup {
        local: &local,
        shell: Some(&env),
        claude_settings: claude_settings.as_deref(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let checks = runtime.block_on(maskgate::doctor::run(&setup));
    for check in &checks {
        println!("{check}");
    }
    if checks.iter().any(|c| !c.ok) {
        std::process::exit(1);
    }
    Ok(())
}

fn run_mask(
    settings: &Settings,
    file: Option<&std::path::Path>,
    json: bool,
    report: bool,
) -> anyhow::Result<()> {
    use std::io::Write;
    let engine = proxy::engine_for(settings, &[])?;
    let mut input = Vec::new();
    match file {
        Some(path) => {
            input = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut input)
                .context("reading standard input")?;
        }
    }
    let (output, counts) = if json {
        let (masked, _) = mask_json(&engine, &input)?;
        (masked.output, masked.counts)
    } else {
        let Ok(text) = std::str::from_utf8(&input) else {
            bail!("the input is not UTF-8 text");
        };
        let masked = mask_text(&engine, text);
        (masked.output.into_bytes(), masked.counts)
    };
    std::io::stdout().write_all(&output)?;
    if report {
        eprintln!("{}", serde_json::to_string_pretty(&counts)?);
    }
    Ok(())
}

/// The browser dashboard's token: MASKGATE_DASHBOARD_TOKEN, or a fresh random one.
fn dashboard_token() -> anyhow::Result<String> {
    match std::env::var("MASKGATE_DASHBOARD_TOKEN") {
        Ok(token) if token.len() >= 16 => Ok(token),
        Ok(_) => bail!("MASKGATE_DASHBOARD_TOKEN must be at least 16 characters"),
        Err(_) => Ok(maskgate::dashboard::new_token()?),
    }
}
