//! Secrets in the OS keychain — the Secret Service (GNOME Keyring, KWallet) on Linux, the
//! Keychain on macOS, the Credential Manager on Windows — under the service name `maskgate`.
//! They never touch the config file or a log line.

use keyring::Entry;

use super::Secrets;

const SERVICE: &str = "maskgate";
const GATEWAY_SECRET: &str = "gateway-secret";
const LOCAL_TOKEN: &str = "local-token";

#[derive(Debug, thiserror::Error)]
#[error("the OS keychain refused: {0} (is a Secret Service such as gnome-keyring running and unlocked?)")]
pub struct KeychainError(#[from] keyring::Error);

fn read(name: &str) -> Result<Option<String>, KeychainError> {
    match Entry::new(SERVICE, name)?.get_password() {
        Ok(value) => Ok(Some(value)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn write(name: &str, value: Option<&str>) -> Result<(), KeychainError> {
    let entry = Entry::new(SERVICE, name)?;
    match value {
        Some(value) => Ok(entry.set_password(value)?),
        None => match entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.into()),
        },
    }
}

/// Both secrets, as stored.
pub fn load() -> Result<Secrets, KeychainError> {
    Ok(Secrets {
        gateway_secret: read(GATEWAY_SECRET)?,
        local_token: read(LOCAL_TOKEN)?,
        ..Secrets::default()
    })
}

/// Stores (or, with `None`, removes) the gateway key, token or password.
pub fn store_gateway_secret(value: Option<&str>) -> Result<(), KeychainError> {
    write(GATEWAY_SECRET, value)
}

/// Stores (or removes) the local proxy token.
pub fn store_local_token(value: Option<&str>) -> Result<(), KeychainError> {
    write(LOCAL_TOKEN, value)
}
