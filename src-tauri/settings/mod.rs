//! Settings: everything a user can change, kept as TOML in the platform config directory
//! (`~/.config/maskgate/config.toml` on Linux). Secrets — the gateway credential and the
//! local proxy token — are never part of this file: the desktop app keeps them in the OS
//! keychain, the headless server reads them from the environment or a file.

pub mod aws_files;
pub mod claude_code;
#[cfg(feature = "desktop")]
pub mod keychain;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::mask::{AlwaysMask, CustomPattern, KnownValue};

/// How maskgate authenticates to the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum GatewayAuth {
    /// No gateway credential (straight to the Anthropic API, or an open gateway).
    #[default]
    None,
    /// Kong key-auth: the secret in a header (`apikey` by default).
    Key,
    /// `Authorization: Bearer <secret>` (JWT, OAuth2, OIDC plugins).
    Bearer,
    /// Kong basic-auth: `basic_user` and the secret as password.
    Basic,
}

/// Who supplies the Anthropic API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AnthropicKey {
    /// The developer's own key goes on through the gateway to Anthropic.
    #[default]
    PassThrough,
    /// The gateway injects the company's key; maskgate drops the client's.
    GatewayHeld,
}

/// The gateway hop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewaySettings {
    pub auth: GatewayAuth,
    /// Header for [`GatewayAuth::Key`].
    pub key_header: String,
    /// User name for [`GatewayAuth::Basic`].
    pub basic_user: String,
    pub anthropic_key: AnthropicKey,
    /// PEM file of an extra CA to trust (a company CA in front of Kong).
    pub ca_file: Option<PathBuf>,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            auth: GatewayAuth::None,
            key_header: "apikey".to_owned(),
            basic_user: String::new(),
            anthropic_key: AnthropicKey::PassThrough,
            ca_file: None,
        }
    }
}

/// What happens to a request holding an identifier of one category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Masked on the way up, restored in the answer: Claude Code works as without maskgate.
    #[default]
    MaskAndRestore,
    /// Masked, and the answer keeps the token: a model never writes the original into a file
    /// or a command.
    MaskOnly,
    /// The request is refused (400, naming the category); nothing is forwarded.
    Refuse,
}

/// What happens to a request that carries an image or a PDF: maskgate reads text only, so an
/// identifier on a screenshot of the AWS console or in a PDF could not be masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attachments {
    /// Refused (400, saying why and how to allow them): nothing leaves unread unless the
    /// user chose so.
    #[default]
    Refuse,
    /// Sent as they are; the live view marks the exchange.
    Forward,
}

/// All of maskgate's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Serve the listener over TLS (HTTP/2 and HTTP/1.1) with this certificate and key: what
    /// a shared pool needs, since it receives originals over the network.
    pub tls: Option<ListenerTls>,
    /// Headless: also serve `GET /metrics` alone, with no guard, on this address (for
    /// Prometheus' annotation-driven scrape; the metrics hold no request text).
    pub metrics_listen: Option<SocketAddr>,
    /// The Anthropic API, or the Kong route (any path prefix is kept).
    pub upstream_url: String,
    pub gateway: GatewaySettings,
    /// Catalog kinds switched off (ids from the catalog).
    pub disabled_kinds: BTreeSet<String>,
    pub custom_patterns: Vec<CustomPattern>,
    /// Values masked wherever they stand (literals and `*` globs), each with a token prefix.
    pub always_mask: Vec<AlwaysMask>,
    /// Values that stay readable whatever detects them.
    pub never_mask: Vec<String>,
    /// The action per category id (catalog ids, `custom:<name>`, `list:<PREFIX>`); a
    /// category not named here is masked and restored.
    pub policies: BTreeMap<String, Policy>,
    /// Mask every identifier found in `~/.aws/config`, `~/.aws/credentials` and the `AWS_*`
    /// environment, wherever it appears (see `aws_files`).
    pub aws_known_values: bool,
    /// Images and PDFs, which maskgate cannot read.
    pub attachments: Attachments,
    pub max_body_mib: usize,
    /// Host names accepted besides loopback ones (central deployments behind a load balancer).
    pub allowed_hosts: Vec<String>,
    /// Longest silence allowed inside an upstream answer.
    pub idle_timeout_secs: u64,
    /// Longest wait for a client's request headers, from its connection's start or the end
    /// of its last answer (so also how long an idle keep-alive connection stays open).
    pub client_header_timeout_secs: u64,
    /// Longest time a client may take to send one request body.
    pub client_body_timeout_secs: u64,
    /// Open client connections at most; one more is answered 503.
    pub max_connections: usize,
    /// What the live view keeps of recent exchanges (masked requests and restored answers
    /// together), in MiB.
    pub journal_mib: usize,
    /// Append one masked-only JSON line per exchange here.
    pub audit_log: Option<PathBuf>,
    /// How many recent exchanges the live view keeps.
    pub journal_capacity: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8082)),
            tls: None,
            metrics_listen: None,
            upstream_url: "https://api.anthropic.com".to_owned(),
            gateway: GatewaySettings::default(),
            disabled_kinds: BTreeSet::new(),
            custom_patterns: Vec::new(),
            always_mask: Vec::new(),
            never_mask: Vec::new(),
            aws_known_values: true,
            attachments: Attachments::Refuse,
            policies: BTreeMap::new(),
            max_body_mib: 32,
            allowed_hosts: Vec::new(),
            idle_timeout_secs: 300,
            client_header_timeout_secs: 60,
            client_body_timeout_secs: 120,
            max_connections: 512,
            journal_mib: 256,
            audit_log: None,
            journal_capacity: 2000,
        }
    }
}

/// The listener's certificate chain and private key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Secrets, and what was learned from the user's AWS account: held in memory only, never in
/// a file; `Debug` never shows them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// The gateway key, bearer token or basic-auth password.
    pub gateway_secret: Option<String>,
    /// When set, clients must send it in `x-maskgate-token`.
    pub local_token: Option<String>,
    /// Names learned from the user's AWS account this session (`control::learn`).
    pub learned: Vec<KnownValue>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field(
                "gateway_secret",
                &self.gateway_secret.as_ref().map(|_| "***"),
            )
            .field("local_token", &self.local_token.as_ref().map(|_| "***"))
            .field("learned", &self.learned.len())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid maskgate settings: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no config directory could be found for this user; pass --config")]
    NoConfigDir,
}

/// `~/.config/maskgate/config.toml` (or the platform's equivalent).
pub fn default_path() -> Result<PathBuf, SettingsError> {
    directories::ProjectDirs::from("dev", "maskgate", "maskgate")
        .map(|dirs| dirs.config_dir().join("config.toml"))
        .ok_or(SettingsError::NoConfigDir)
}

impl Settings {
    /// The known values these settings ask for: the user's AWS configuration when
    /// `aws_known_values` is on, read afresh.
    pub fn known_values(&self) -> aws_files::KnownValues {
        if self.aws_known_values {
            aws_files::read(&|var| std::env::var(var).ok())
        } else {
            aws_files::KnownValues::default()
        }
    }

    /// Reads the file, or the defaults when it does not exist yet.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|source| SettingsError::Parse {
                path: path.to_owned(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(source) => Err(SettingsError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Writes the file atomically (a temporary file renamed over it), readable by the user only.
    pub fn save(&self, path: &Path) -> Result<(), SettingsError> {
        let write_error = |source| SettingsError::Write {
            path: path.to_owned(),
            source,
        };
        let text = toml::to_string_pretty(self).expect("settings always serialize");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(write_error)?;
        }
        let temporary = path.with_extension("toml.tmp");
        write_private(&temporary, text.as_bytes()).map_err(write_error)?;
        std::fs::rename(&temporary, path).map_err(write_error)
    }

    /// The base URL clients are given: `http://` or, with TLS, `https://` and the address.
    pub fn base_url(&self) -> String {
        self.base_url_at(self.listen)
    }

    /// [`Settings::base_url`] for the address the listener actually holds.
    pub fn base_url_at(&self, address: SocketAddr) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{address}")
    }

    pub fn max_body_bytes(&self) -> usize {
        self.max_body_mib.saturating_mul(1024 * 1024)
    }

    pub fn journal_bytes(&self) -> usize {
        self.journal_mib.saturating_mul(1024 * 1024)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_gives_defaults_and_a_saved_file_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("config.toml");
        assert_eq!(
            Settings::load(&path).expect("defaults"),
            Settings::default()
        );
        let mut settings = Settings::default();
        settings.disabled_kinds.insert("private_ipv4".into());
        settings.gateway.auth = GatewayAuth::Key;
        settings.custom_patterns.push(CustomPattern {
            name: "ticket".into(),
            regex: r"OPS-\d+".into(),
            token_prefix: "TICKET".into(),
        });
        settings.save(&path).expect("saved");
        assert_eq!(Settings::load(&path).expect("read back"), settings);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_partial_file_fills_in_defaults_and_a_broken_one_says_where() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "upstream_url = \"http://127.0.0.1:9000\"\n").expect("write");
        let settings = Settings::load(&path).expect("parsed");
        assert_eq!(settings.upstream_url, "http://127.0.0.1:9000");
        assert_eq!(settings.listen, Settings::default().listen);
        std::fs::write(&path, "listen = 5").expect("write");
        let error = Settings::load(&path).expect_err("invalid").to_string();
        assert!(error.contains("config.toml"), "{error}");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let secrets = Secrets {
            gateway_secret: Some("kong-key-123".into()),
            local_token: Some("tok".into()),
            ..Secrets::default()
        };
        let shown = format!("{secrets:?}");
        assert!(!shown.contains("kong-key-123") && !shown.contains("tok\""));
    }
}
