//! The control layer both dashboards drive, and the headless server too: the one place that
//! holds the settings in effect, the secrets, the journal and the running proxy, applies a
//! settings change (then saves it), and carries out the page's [`Command`]s. The desktop
//! window (Tauri IPC) and the browser dashboard (`POST /api/{command}`) only translate to a
//! `Command` and back. Knows nothing of Tauri.

pub mod learn;
pub mod views;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::doctor::{self, Check};
use crate::journal::{self, Export, ExportFormat, Journal};
use crate::local::{CertificateError, Local};
use crate::mask::{AlwaysMask, CustomPattern, EngineError};
use crate::proxy::health::check;
use crate::proxy::{self, ConfigError, Proxy, ProxyConfig, RunningServer, ServeLimits};
use crate::settings::{
    aws_files, claude_code, Attachments, Policy, Secrets, Settings, SettingsError,
};
pub use views::Status;
use views::{ExchangeDetail, GatewayView};

/// How often the files behind the known values are looked at.
const KNOWN_VALUES_POLL: Duration = Duration::from_secs(2);

/// What the page can ask, with its arguments.
#[derive(Debug, Deserialize)]
#[serde(
    tag = "command",
    content = "args",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Command {
    Status,
    Exchanges,
    Exchange {
        id: u64,
    },
    /// Lets go of the recorded exchanges (and the originals they hold in memory).
    ClearJournal,
    /// How much the live view keeps, and holds now.
    Retention,
    /// Keeps at most `records` exchanges and `mib` MiB of them from now on.
    SaveRetention {
        records: usize,
        mib: usize,
    },
    /// The exchanges `ids` as the upstream saw them (masked only), as a file's text.
    Export {
        ids: Vec<u64>,
        format: ExportFormat,
    },
    /// [`Command::Export`] written to the user's downloads folder (the desktop window, which
    /// has no browser download); answers the file's path.
    SaveExport {
        ids: Vec<u64>,
        format: ExportFormat,
    },
    Catalog,
    SetKindEnabled {
        id: String,
        enabled: bool,
    },
    /// What happens to a request holding an identifier of category `id`.
    SetPolicy {
        id: String,
        policy: Policy,
    },
    /// What a custom pattern would mask in `sample`, before it is saved.
    PreviewPattern {
        pattern: CustomPattern,
        sample: String,
    },
    SaveCustomPatterns {
        patterns: Vec<CustomPattern>,
    },
    /// The always-mask and never-mask lists.
    Lists,
    SaveLists {
        always: Vec<AlwaysMask>,
        never: Vec<String>,
        aws_known_values: bool,
        attachments: Attachments,
    },
    /// Adds one value to the never-mask list: the one-click answer to a false positive.
    NeverMask {
        value: String,
    },
    GatewaySettings,
    /// A new secret or local token (when given; empty removes it) goes to the secret store.
    SaveGatewaySettings {
        view: GatewayView,
        secret: Option<String>,
        local_token: Option<String>,
    },
    /// Asks the upstream (with the gateway credential, no prompt) what it thinks of us.
    TestConnection,
    /// Writes ANTHROPIC_BASE_URL (and the token header) into ~/.claude/settings.json.
    SetUpClaudeCode,
    /// `maskgate doctor`'s checks, as the app can make them (see [`Control::check_setup`]).
    CheckSetup,
    /// Lists the user's AWS resources with their own `aws` CLI; the names are masked from the
    /// next request on, for this session (see `learn`).
    Learn {
        #[serde(default)]
        profile: Option<String>,
    },
    Pause,
    Resume,
}

impl Command {
    /// The command `name` with its JSON `args` (an empty object for none), as both shells
    /// receive them.
    pub fn parse(name: &str, args: Value) -> Result<Command, ControlError> {
        let no_args = match &args {
            Value::Null => true,
            Value::Object(members) => members.is_empty(),
            _ => false,
        };
        let tagged = if no_args {
            serde_json::json!({ "command": name })
        } else {
            serde_json::json!({ "command": name, "args": args })
        };
        serde_json::from_value(tagged).map_err(|e| ControlError::BadCommand {
            name: name.to_owned(),
            reason: e.to_string(),
        })
    }
}

/// Why a command was not carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    #[error("command {name:?}: {reason}")]
    BadCommand { name: String, reason: String },
    /// The settings would not run (a bad regex, a missing gateway secret): nothing changed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Pattern(#[from] EngineError),
    /// Applied to the running proxy, but the file could not be written.
    #[error("applied, but not saved: {0}")]
    NotSaved(#[source] SettingsError),
    #[error("the secret store refused: {0}")]
    SecretStore(String),
    #[error("listen address {given:?}: {reason}")]
    BadListenAddress { given: String, reason: String },
    #[error("{0}: the headless proxy takes its gateway and its life from the command line; restart it with other options")]
    FixedByCommandLine(&'static str),
    #[error("the proxy is not running; see the error above")]
    NotRunning,
    #[error("cannot set up Claude Code: {0}")]
    ClaudeCode(String),
    #[error(transparent)]
    Learn(#[from] learn::LearnError),
    #[error("cannot save the export to {path}: {source}")]
    Export {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Certificate(#[from] CertificateError),
}

impl ControlError {
    /// A stable name for the kind of error, for the page and for notifications.
    pub fn kind(&self) -> &'static str {
        match self {
            ControlError::BadCommand { .. } => "bad_command",
            ControlError::Config(_) | ControlError::Pattern(_) => "invalid_settings",
            ControlError::NotSaved(_) => "not_saved",
            ControlError::SecretStore(_) => "secret_store",
            ControlError::BadListenAddress { .. } => "invalid_settings",
            ControlError::FixedByCommandLine(_) => "fixed_by_command_line",
            ControlError::NotRunning => "not_running",
            ControlError::ClaudeCode(_) => "claude_code",
            ControlError::Learn(_) => "learn",
            ControlError::Export { .. } => "export",
            ControlError::Certificate(_) => "certificate",
        }
    }
}

/// An error as both pages receive it.
#[derive(Debug, Serialize)]
pub struct ErrorView {
    pub kind: &'static str,
    pub message: String,
}

impl From<&ControlError> for ErrorView {
    fn from(e: &ControlError) -> ErrorView {
        ErrorView {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// Where secrets are kept when the page changes them: the OS keychain in the desktop app.
pub trait SecretStore: Send + Sync {
    /// Stores (or, with `None`, removes) the gateway secret.
    fn store_gateway_secret(&self, value: Option<&str>) -> Result<(), String>;
    /// Stores (or removes) the local proxy token.
    fn store_local_token(&self, value: Option<&str>) -> Result<(), String>;
}

/// Which shell runs the control layer: what the page may change differs.
pub enum Shell {
    /// The tray app: secrets in `store`, pause and resume from the page or the tray.
    Desktop { store: Box<dyn SecretStore> },
    /// `maskgate --headless`: the gateway, its secrets and the listener come from the
    /// command line and the environment.
    Headless,
}

/// What happens when the proxy's status changes (the tray icon, a notification, an event).
pub type StatusListener = Box<dyn Fn(&Status) + Send + Sync>;

/// The running maskgate, as the pages and the headless server see it.
pub struct Control {
    settings_path: PathBuf,
    /// The settings in effect (for the headless server: the file plus the command line's).
    settings: Mutex<Settings>,
    secrets: Mutex<Secrets>,
    shell: Shell,
    journal: Arc<Journal>,
    proxy: Mutex<Option<Arc<Proxy>>>,
    server: tokio::sync::Mutex<Option<RunningServer>>,
    status: Mutex<Status>,
    on_status: StatusListener,
    /// This control, for the hooks it gives the proxy (`maskgate learn`).
    me: std::sync::Weak<Control>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long open exchanges may take to finish when the listener stops for a settings change.
const RESTART_GRACE: Duration = Duration::from_secs(5);

/// How long open exchanges may take to finish when the user pauses the proxy.
const PAUSE_GRACE: Duration = Duration::from_secs(30);

impl Control {
    pub fn new(
        settings_path: PathBuf,
        settings: Settings,
        secrets: Secrets,
        shell: Shell,
        on_status: StatusListener,
    ) -> Arc<Control> {
        let journal = Arc::new(Journal::new(
            settings.journal_capacity,
            settings.journal_bytes(),
            settings.audit_log.clone(),
        ));
        Arc::new_cyclic(|me| Control {
            me: me.clone(),
            settings_path,
            settings: Mutex::new(settings),
            secrets: Mutex::new(secrets),
            shell,
            journal,
            proxy: Mutex::new(None),
            server: tokio::sync::Mutex::new(None),
            status: Mutex::new(Status::Starting),
            on_status,
        })
    }

    /// Rebuilds the running configuration whenever the files behind the known values change
    /// (`~/.aws/config`, `~/.aws/credentials`): a new profile or key is masked from the next
    /// request on. Runs until the control is dropped; the shell spawns it.
    pub fn watch_known_values(control: &Arc<Control>) -> impl Future<Output = ()> + Send + 'static {
        let control = Arc::downgrade(control);
        async move {
            let env = |var: &str| std::env::var(var).ok();
            let mut seen = aws_files::fingerprint(&env);
            loop {
                tokio::time::sleep(KNOWN_VALUES_POLL).await;
                let Some(control) = control.upgrade() else {
                    return;
                };
                let now = aws_files::fingerprint(&env);
                let running = matches!(control.status(), Status::Running { .. });
                if now != seen && running && control.settings().aws_known_values {
                    tracing::info!("AWS configuration changed: known values re-read");
                    let _ = control.start().await;
                }
                seen = now;
            }
        }
    }

    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    pub fn status(&self) -> Status {
        lock(&self.status).clone()
    }

    /// The proxy, once settings have been compiled for it.
    pub fn proxy(&self) -> Option<Arc<Proxy>> {
        lock(&self.proxy).clone()
    }

    pub fn local_token(&self) -> Option<String> {
        lock(&self.secrets).local_token.clone()
    }

    fn set_status(&self, status: Status) {
        *lock(&self.status) = status.clone();
        (self.on_status)(&status);
    }

    /// Compiles the settings and serves them: a new listener when the address changed, the
    /// running one (with the new settings from its next request on) otherwise. A failure
    /// becomes the status, and is returned.
    pub async fn start(&self) -> Result<SocketAddr, String> {
        let (settings, secrets) = (self.settings(), lock(&self.secrets).clone());
        let config = match ProxyConfig::from_settings(&settings, &secrets) {
            Ok(config) => config,
            Err(e) => return Err(self.fail(format!("maskgate cannot start: {e}"))),
        };
        self.journal
            .set_bounds(settings.journal_capacity, settings.journal_bytes());
        let proxy = {
            let mut slot = lock(&self.proxy);
            match slot.as_ref() {
                Some(proxy) => {
                    proxy.apply(config);
                    Arc::clone(proxy)
                }
                None => {
                    let proxy = Proxy::new(config, Arc::clone(&self.journal));
                    proxy.set_learn_hook(self.learn_hook());
                    slot.insert(proxy).clone()
                }
            }
        };
        let mut server = self.server.lock().await;
        if let Some(running) = server.as_ref() {
            let same_address = running.address == settings.listen || settings.listen.port() == 0;
            if same_address && running.tls == settings.tls {
                let address = running.address;
                let base_url = settings.base_url_at(address);
                self.set_status(Status::Running { address, base_url });
                return Ok(address);
            }
        }
        if let Some(old) = server.take() {
            old.stop(RESTART_GRACE).await;
        }
        let limits = ServeLimits::from_settings(&settings);
        match proxy::start(settings.listen, settings.tls.as_ref(), proxy, limits).await {
            Ok(running) => {
                let address = running.address;
                *server = Some(running);
                tracing::info!(
                    %address,
                    upstream = %settings.upstream_url,
                    "maskgate is serving; set ANTHROPIC_BASE_URL={}",
                    settings.base_url_at(address)
                );
                let base_url = settings.base_url_at(address);
                self.set_status(Status::Running { address, base_url });
                Ok(address)
            }
            Err(e) => Err(self.fail(format!(
                "the proxy could not listen on {}: {e}",
                settings.listen
            ))),
        }
    }

    fn fail(&self, message: String) -> String {
        self.set_status(Status::Error {
            message: message.clone(),
        });
        message
    }

    /// Stops the listener; open exchanges (streams included) get up to `grace` to finish.
    pub async fn stop(&self, grace: Duration) {
        if let Some(server) = self.server.lock().await.take() {
            server.stop(grace).await;
        }
    }

    /// The one way settings change: applied to the running proxy first (refused, with
    /// nothing changed, if they would not run), then saved. Only the change is written, so
    /// the headless server's command-line overrides stay out of the file.
    pub async fn update_settings(
        &self,
        change: impl Fn(&mut Settings),
    ) -> Result<(), ControlError> {
        {
            let mut settings = lock(&self.settings);
            let mut changed = settings.clone();
            change(&mut changed);
            ProxyConfig::from_settings(&changed, &lock(&self.secrets))?;
            *settings = changed;
        }
        if !matches!(self.status(), Status::Paused) {
            // A listener that cannot move to a new address shows in the status.
            let _ = self.start().await;
        }
        let mut on_disk = Settings::load(&self.settings_path).map_err(ControlError::NotSaved)?;
        change(&mut on_disk);
        on_disk
            .save(&self.settings_path)
            .map_err(ControlError::NotSaved)
    }

    /// Learns the names of the user's AWS resources (see `learn`) and masks them from the next
    /// request on. What is learned replaces the last run's; it lives in memory only.
    pub async fn learn(&self, profile: Option<String>) -> Result<learn::LearnReport, ControlError> {
        let profile = profile.filter(|p| !p.trim().is_empty());
        let (values, report) =
            tokio::task::spawn_blocking(move || learn::learn(profile.as_deref()))
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
        lock(&self.secrets).learned = values;
        if matches!(self.status(), Status::Running { .. }) {
            let _ = self.start().await;
        }
        Ok(report)
    }

    /// `POST /_maskgate/learn` on the proxy's port runs [`Control::learn`].
    fn learn_hook(&self) -> proxy::LearnHook {
        let me = self.me.clone();
        Arc::new(move |profile| {
            let me = me.clone();
            Box::pin(async move {
                let control = me.upgrade().ok_or("maskgate is stopping")?;
                let report = control.learn(profile).await.map_err(|e| e.to_string())?;
                Ok(serde_json::to_value(report).expect("reports serialize"))
            })
        })
    }

    /// Carries out one of the page's commands; the answer is JSON for the page.
    pub async fn run(&self, command: Command) -> Result<Value, ControlError> {
        fn answer(value: impl Serialize) -> Result<Value, ControlError> {
            Ok(serde_json::to_value(value).expect("views always serialize"))
        }
        match command {
            Command::Status => answer(self.status()),
            Command::Exchanges => answer(self.journal.summaries()),
            Command::ClearJournal => {
                self.journal.clear();
                answer(())
            }
            Command::Retention => {
                let settings = self.settings();
                let (records, bytes) = self.journal.held();
                answer(views::RetentionView {
                    records: settings.journal_capacity,
                    mib: settings.journal_mib,
                    held_records: records,
                    held_mib: bytes as f64 / (1024.0 * 1024.0),
                })
            }
            Command::SaveRetention { records, mib } => {
                if records == 0 || mib == 0 {
                    return Err(ControlError::BadCommand {
                        name: "save_retention".to_owned(),
                        reason: "keep at least one exchange and one MiB".to_owned(),
                    });
                }
                self.update_settings(|s| {
                    s.journal_capacity = records;
                    s.journal_mib = mib;
                })
                .await?;
                answer(())
            }
            Command::Export { ids, format } => answer(self.export(&ids, format)),
            Command::SaveExport { ids, format } => {
                self.desktop_only("save_export")?;
                let export = self.export(&ids, format);
                answer(save_export(&export)?.display().to_string())
            }
            Command::Exchange { id } => {
                let detail = self.journal.record(id).map(|record| {
                    let earlier =
                        (self.journal).requests_before(id, &record.path, views::TURNS_LOOKED_AT);
                    ExchangeDetail::of(&record, &earlier)
                });
                answer(detail)
            }
            Command::Catalog => answer(views::catalog(&self.settings(), &self.journal.totals())),
            Command::SetKindEnabled { id, enabled } => {
                self.update_settings(|s| views::set_kind_enabled(s, &id, enabled))
                    .await?;
                answer(())
            }
            Command::SetPolicy { id, policy } => {
                self.update_settings(|s| {
                    if policy == Policy::default() {
                        s.policies.remove(&id);
                    } else {
                        s.policies.insert(id.clone(), policy);
                    }
                })
                .await?;
                answer(())
            }
            Command::PreviewPattern { pattern, sample } => {
                answer(views::preview_pattern(pattern, &sample)?)
            }
            Command::SaveCustomPatterns { patterns } => {
                self.update_settings(|s| s.custom_patterns = patterns.clone())
                    .await?;
                answer(())
            }
            Command::Lists => {
                let settings = self.settings();
                answer(views::ListsView {
                    known: settings.known_values().per_source,
                    aws_known_values: settings.aws_known_values,
                    attachments: settings.attachments,
                    always: settings.always_mask,
                    never: settings.never_mask,
                })
            }
            Command::SaveLists {
                always,
                never,
                aws_known_values,
                attachments,
            } => {
                self.update_settings(|s| {
                    s.always_mask = always.clone();
                    s.never_mask = never.clone();
                    s.aws_known_values = aws_known_values;
                    s.attachments = attachments;
                })
                .await?;
                answer(())
            }
            Command::NeverMask { value } => {
                let value = value.trim().to_owned();
                if value.is_empty() {
                    return Err(ControlError::BadCommand {
                        name: "never_mask".to_owned(),
                        reason: "the value is empty".to_owned(),
                    });
                }
                self.update_settings(|s| {
                    if !s.never_mask.iter().any(|v| v.eq_ignore_ascii_case(&value)) {
                        s.never_mask.push(value.clone());
                    }
                })
                .await?;
                answer(())
            }
            Command::Learn { profile } => answer(self.learn(profile).await?),
            Command::GatewaySettings => {
                let secrets = lock(&self.secrets).clone();
                let mut view = GatewayView::of(
                    &self.settings(),
                    secrets.gateway_secret.is_some(),
                    secrets.local_token.is_some(),
                );
                view.editable = matches!(self.shell, Shell::Desktop { .. });
                answer(view)
            }
            Command::SaveGatewaySettings {
                view,
                secret,
                local_token,
            } => {
                self.save_gateway_settings(view, secret.as_deref(), local_token.as_deref())
                    .await?;
                answer(())
            }
            Command::TestConnection => {
                let proxy = self.proxy().ok_or(ControlError::NotRunning)?;
                let upstream = Arc::clone(&proxy.config().upstream);
                answer(check(&upstream).await)
            }
            Command::SetUpClaudeCode => {
                let Status::Running { base_url, .. } = self.status() else {
                    return Err(ControlError::NotRunning);
                };
                let done = views::set_up_claude_code(&base_url, self.local_token().as_deref())
                    .map_err(ControlError::ClaudeCode)?;
                answer(done)
            }
            Command::CheckSetup => answer(self.check_setup().await?),
            Command::Pause => {
                self.desktop_only("pause")?;
                self.stop(PAUSE_GRACE).await;
                self.set_status(Status::Paused);
                answer(())
            }
            Command::Resume => {
                self.desktop_only("resume")?;
                let _ = self.start().await;
                answer(())
            }
        }
    }

    /// `maskgate doctor`'s checks of this maskgate (where it serves now, with the token it
    /// holds) and of `~/.claude/settings.json`. The user's shells are out of this process's
    /// sight, so their variables are not checked: `maskgate doctor` in a terminal does that.
    pub async fn check_setup(&self) -> Result<Vec<Check>, ControlError> {
        let mut settings = self.settings();
        if let Status::Running { address, .. } = self.status() {
            settings.listen = address;
        }
        let local = Local::new(&settings, self.local_token())?;
        let claude_settings = claude_code::default_path();
        let setup = doctor::Setup {
            local: &local,
            shell: None,
            claude_settings: claude_settings.as_deref(),
        };
        Ok(doctor::run(&setup).await)
    }

    /// The exchanges `ids` still in the journal, masked only, in `format`.
    fn export(&self, ids: &[u64], format: ExportFormat) -> Export {
        let base_url = match self.status() {
            Status::Running { base_url, .. } => base_url,
            _ => self.settings().base_url(),
        };
        journal::export(&self.journal.records(ids), format, &base_url)
    }

    fn desktop_only(&self, command: &'static str) -> Result<&dyn SecretStore, ControlError> {
        match &self.shell {
            Shell::Desktop { store } => Ok(store.as_ref()),
            Shell::Headless => Err(ControlError::FixedByCommandLine(command)),
        }
    }

    async fn save_gateway_settings(
        &self,
        view: GatewayView,
        secret: Option<&str>,
        local_token: Option<&str>,
    ) -> Result<(), ControlError> {
        let store = self.desktop_only("save_gateway_settings")?;
        let listen: SocketAddr =
            view.listen
                .trim()
                .parse()
                .map_err(
                    |e: std::net::AddrParseError| ControlError::BadListenAddress {
                        given: view.listen.clone(),
                        reason: e.to_string(),
                    },
                )?;
        {
            let mut secrets = lock(&self.secrets);
            if let Some(value) = secret {
                let value = (!value.is_empty()).then_some(value);
                store
                    .store_gateway_secret(value)
                    .map_err(ControlError::SecretStore)?;
                secrets.gateway_secret = value.map(str::to_owned);
            }
            if let Some(value) = local_token {
                let value = (!value.is_empty()).then_some(value);
                store
                    .store_local_token(value)
                    .map_err(ControlError::SecretStore)?;
                secrets.local_token = value.map(str::to_owned);
            }
        }
        self.update_settings(|s| {
            s.upstream_url = view.upstream_url.trim().to_owned();
            s.listen = listen;
            s.gateway.auth = view.auth;
            s.gateway.key_header = view.key_header.trim().to_owned();
            s.gateway.basic_user = view.basic_user.clone();
            s.gateway.anthropic_key = view.anthropic_key;
            s.gateway.ca_file = view
                .ca_file
                .clone()
                .filter(|p| !p.trim().is_empty())
                .map(Into::into);
        })
        .await
    }
}

/// Writes `export` into the user's downloads folder (the home folder when there is none),
/// readable by the user only, under a name no other file has; answers its path.
fn save_export(export: &Export) -> Result<PathBuf, ControlError> {
    let dirs = directories::UserDirs::new();
    let folder = dirs
        .as_ref()
        .and_then(|d| d.download_dir().map(PathBuf::from))
        .or_else(|| dirs.as_ref().map(|d| d.home_dir().to_path_buf()))
        .unwrap_or_else(std::env::temp_dir);
    let (stem, extension) = export
        .file_name
        .rsplit_once('.')
        .unwrap_or((&export.file_name, "txt"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut n = 1;
    loop {
        let name = match n {
            1 => export.file_name.clone(),
            _ => format!("{stem}-{n}.{extension}"),
        };
        let path = folder.join(name);
        let failed = |source| ControlError::Export {
            path: path.clone(),
            source,
        };
        match options.open(&path) {
            Ok(mut file) => {
                std::io::Write::write_all(&mut file, export.text.as_bytes()).map_err(failed)?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) => return Err(failed(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::ExchangeRecord;
    use serde_json::json;

    fn control(dir: &std::path::Path, shell: Shell) -> Arc<Control> {
        let settings = Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            upstream_url: "http://127.0.0.1:9".into(),
            ..Settings::default()
        };
        Control::new(
            dir.join("config.toml"),
            settings,
            Secrets::default(),
            shell,
            Box::new(|_| {}),
        )
    }

    async fn run(control: &Control, name: &str, args: Value) -> Result<Value, ControlError> {
        control.run(Command::parse(name, args)?).await
    }

    #[test]
    fn commands_parse_from_a_name_and_its_arguments() {
        assert!(matches!(
            Command::parse("exchange", json!({"id": 7})),
            Ok(Command::Exchange { id: 7 })
        ));
        assert!(matches!(
            Command::parse("status", json!({})),
            Ok(Command::Status)
        ));
        for (name, args) in [
            ("no_such_command", json!({})),
            ("exchange", json!({"id": "seven"})),
            ("exchange", json!({"id": 7, "extra": 1})),
        ] {
            let error = Command::parse(name, args).expect_err("refused");
            assert_eq!(error.kind(), "bad_command");
        }
    }

    #[tokio::test]
    async fn a_custom_pattern_switched_off_leaves_the_proxy_and_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let control = control(dir.path(), Shell::Headless);
        control.start().await.expect("serves");
        let pattern = json!({"name": "ticket", "regex": "TICKET-[0-9]+", "token_prefix": "TICKET"});
        run(
            &control,
            "save_custom_patterns",
            json!({"patterns": [pattern]}),
        )
        .await
        .expect("saved");
        let rules = |control: &Control| -> Vec<String> {
            let proxy = control.proxy().expect("running");
            let config = proxy.config();
            config.engine.rules().iter().map(|r| r.id.clone()).collect()
        };
        assert!(rules(&control).contains(&"custom:ticket".to_owned()));
        run(
            &control,
            "set_kind_enabled",
            json!({"id": "custom:ticket", "enabled": false}),
        )
        .await
        .expect("switched");
        assert!(!rules(&control).contains(&"custom:ticket".to_owned()));
        let saved = Settings::load(&dir.path().join("config.toml")).expect("saved file");
        assert!(saved.disabled_kinds.contains("custom:ticket"));
        assert_eq!(saved.custom_patterns.len(), 1);
        control.stop(Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn retention_applies_to_the_journal_at_once_and_is_saved() {
        let dir = tempfile::tempdir().expect("tempdir");
        let control = control(dir.path(), Shell::Headless);
        control.start().await.expect("serves");
        for _ in 0..5 {
            control
                .journal()
                .start(ExchangeRecord::new("POST", "/v1/messages"));
        }
        run(&control, "save_retention", json!({"records": 3, "mib": 16}))
            .await
            .expect("saved");
        let view = run(&control, "retention", json!({})).await.expect("view");
        assert_eq!(
            (&view["records"], &view["mib"], &view["held_records"]),
            (&json!(3), &json!(16), &json!(3))
        );
        let saved = Settings::load(&dir.path().join("config.toml")).expect("saved file");
        assert_eq!((saved.journal_capacity, saved.journal_mib), (3, 16));
        let refused = run(&control, "save_retention", json!({"records": 0, "mib": 16})).await;
        assert_eq!(refused.expect_err("refused").kind(), "bad_command");
        control.stop(Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn lists_apply_to_the_running_proxy_and_never_mask_adds_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let control = control(dir.path(), Shell::Headless);
        control.start().await.expect("serves");
        let masked = |control: &Control, text: &str| -> String {
            let proxy = control.proxy().expect("running");
            crate::mask::mask_text(&proxy.config().engine, text).output
        };
        run(
            &control,
            "save_lists",
            json!({"always": [{"value": "bluebird", "token_prefix": "CODENAME"}], "never": [], "aws_known_values": true, "attachments": "refuse"}),
        )
        .await
        .expect("saved");
        assert_eq!(masked(&control, "ship Bluebird"), "ship CODENAME_001");
        for _ in 0..2 {
            run(
                &control,
                "never_mask",
                json!({"value": "AKIAIOSFODNN7EXAMPLE"}),
            )
            .await
            .expect("added");
        }
        assert_eq!(
            masked(&control, "key AKIAIOSFODNN7EXAMPLE"),
            "key AKIAIOSFODNN7EXAMPLE"
        );
        let lists = run(&control, "lists", json!({})).await.expect("lists");
        assert_eq!(lists["never"], json!(["AKIAIOSFODNN7EXAMPLE"]));
        let saved = Settings::load(&dir.path().join("config.toml")).expect("saved file");
        assert_eq!(saved.never_mask, ["AKIAIOSFODNN7EXAMPLE"]);
        assert_eq!(saved.always_mask[0].token_prefix, "CODENAME");
        let bad = json!({"always": [{"value": "a*", "token_prefix": "X"}], "never": [], "aws_known_values": true, "attachments": "refuse"});
        let error = run(&control, "save_lists", bad).await.expect_err("refused");
        assert_eq!(error.kind(), "invalid_settings");
        assert!(error.to_string().contains("at least 3"), "{error}");
        control.stop(Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn settings_that_would_not_run_change_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let control = control(dir.path(), Shell::Headless);
        let bad = json!({"name": "x", "regex": "(", "token_prefix": "X"});
        let error = run(&control, "save_custom_patterns", json!({"patterns": [bad]}))
            .await
            .expect_err("refused");
        assert_eq!(error.kind(), "invalid_settings");
        assert!(control.settings().custom_patterns.is_empty());
        assert!(!dir.path().join("config.toml").exists());
    }

    #[tokio::test]
    async fn the_headless_shell_keeps_its_gateway_and_its_life() {
        let dir = tempfile::tempdir().expect("tempdir");
        let control = control(dir.path(), Shell::Headless);
        for name in ["pause", "resume"] {
            let error = run(&control, name, json!({})).await.expect_err("refused");
            assert_eq!(error.kind(), "fixed_by_command_line");
        }
        let view = run(&control, "gateway_settings", json!({}))
            .await
            .expect("view");
        assert_eq!(view["editable"], false);
    }
}
