//! What the desktop app holds: the settings and their file, the keychain secrets, the journal,
//! and the proxy with its listener — started, paused, resumed and reconfigured here.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tauri::Emitter;

use super::notify::Notifier;
use super::tray;
pub use crate::dashboard::views::Status;
use crate::journal::Journal;
use crate::proxy::{self, Proxy, ProxyConfig, RunningServer};
use crate::settings::{keychain, Secrets, Settings};

pub struct Desktop {
    settings_path: PathBuf,
    settings: Mutex<Settings>,
    secrets: Mutex<Secrets>,
    journal: Arc<Journal>,
    proxy: Mutex<Option<Arc<Proxy>>>,
    server: tokio::sync::Mutex<Option<RunningServer>>,
    status: Mutex<Status>,
    notifier: Notifier,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Desktop {
    pub fn new(settings_path: PathBuf, settings: Settings) -> Desktop {
        let notifier = Notifier::default();
        let secrets = keychain::load().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the keychain");
            notifier.once("keychain", &e.to_string());
            Secrets::default()
        });
        Desktop {
            journal: Arc::new(Journal::new(
                settings.journal_capacity,
                settings.journal_bytes(),
                settings.audit_log.clone(),
            )),
            settings_path,
            settings: Mutex::new(settings),
            secrets: Mutex::new(secrets),
            proxy: Mutex::new(None),
            server: tokio::sync::Mutex::new(None),
            status: Mutex::new(Status::Starting),
            notifier,
        }
    }

    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    pub fn secrets_set(&self) -> (bool, bool) {
        let secrets = lock(&self.secrets);
        (
            secrets.gateway_secret.is_some(),
            secrets.local_token.is_some(),
        )
    }

    pub fn status(&self) -> Status {
        lock(&self.status).clone()
    }

    pub fn proxy(&self) -> Option<Arc<Proxy>> {
        lock(&self.proxy).clone()
    }

    fn set_status<R: tauri::Runtime>(&self, app: &tauri::AppHandle<R>, status: Status) {
        *lock(&self.status) = status.clone();
        if let Status::Error { message } = &status {
            self.notifier.once(message, message);
        }
        tray::show_status(app, &status);
        let _ = app.emit("status", &status);
    }

    /// Compiles the current settings and starts serving them.
    pub async fn start<R: tauri::Runtime>(&self, app: &tauri::AppHandle<R>) {
        let (settings, secrets) = (self.settings(), lock(&self.secrets).clone());
        let config = match ProxyConfig::from_settings(&settings, &secrets) {
            Ok(config) => config,
            Err(e) => {
                return self.set_status(
                    app,
                    Status::Error {
                        message: format!("maskgate cannot start: {e}"),
                    },
                )
            }
        };
        let proxy = {
            let mut slot = lock(&self.proxy);
            match slot.as_ref() {
                Some(proxy) => {
                    proxy.apply(config);
                    Arc::clone(proxy)
                }
                None => slot
                    .insert(Proxy::new(config, Arc::clone(&self.journal)))
                    .clone(),
            }
        };
        let mut server = self.server.lock().await;
        if let Some(running) = server.as_ref() {
            if running.address == settings.listen || settings.listen.port() == 0 {
                return self.set_status(
                    app,
                    Status::Running {
                        address: running.address,
                    },
                );
            }
        }
        if let Some(old) = server.take() {
            old.stop(Duration::from_secs(5)).await;
        }
        match proxy::start(
            settings.listen,
            proxy,
            proxy::ServeLimits::from_settings(&settings),
        )
        .await
        {
            Ok(running) => {
                let address = running.address;
                *server = Some(running);
                tracing::info!(%address, "proxy serving");
                self.set_status(app, Status::Running { address });
            }
            Err(e) => self.set_status(
                app,
                Status::Error {
                    message: format!("the proxy could not listen on {}: {e}", settings.listen),
                },
            ),
        }
    }

    /// Stops the listener; open exchanges finish first (up to 30 s).
    pub async fn stop(&self) {
        if let Some(server) = self.server.lock().await.take() {
            server.stop(Duration::from_secs(30)).await;
        }
    }

    pub async fn pause<R: tauri::Runtime>(&self, app: &tauri::AppHandle<R>) {
        self.stop().await;
        self.set_status(app, Status::Paused);
    }

    /// Saves changed settings and applies them from the next request on.
    pub async fn update_settings<R: tauri::Runtime>(
        &self,
        app: &tauri::AppHandle<R>,
        change: impl FnOnce(&mut Settings),
    ) -> Result<(), String> {
        let settings = {
            let mut settings = lock(&self.settings);
            let mut changed = settings.clone();
            change(&mut changed);
            // Refuse what would not compile (a bad custom regex) before saving it.
            ProxyConfig::from_settings(&changed, &lock(&self.secrets))
                .map_err(|e| e.to_string())?;
            *settings = changed.clone();
            changed
        };
        // Applied first, then saved: once the file says so, the proxy already does it.
        if !matches!(self.status(), Status::Paused) {
            self.start(app).await;
        }
        settings
            .save(&self.settings_path)
            .map_err(|e| format!("applied, but not saved: {e}"))
    }

    /// Stores secrets in the keychain (`None` leaves one as it is, `Some("")` removes it).
    pub fn store_secrets(
        &self,
        gateway_secret: Option<&str>,
        local_token: Option<&str>,
    ) -> Result<(), String> {
        let mut secrets = lock(&self.secrets);
        if let Some(value) = gateway_secret {
            let value = (!value.is_empty()).then_some(value);
            keychain::store_gateway_secret(value).map_err(|e| e.to_string())?;
            secrets.gateway_secret = value.map(str::to_owned);
        }
        if let Some(value) = local_token {
            let value = (!value.is_empty()).then_some(value);
            keychain::store_local_token(value).map_err(|e| e.to_string())?;
            secrets.local_token = value.map(str::to_owned);
        }
        Ok(())
    }

    pub fn local_token(&self) -> Option<String> {
        lock(&self.secrets).local_token.clone()
    }
}
