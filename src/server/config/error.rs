//! `ConfigError`: what loading and checking the configuration refuse, naming the file or the key.

use std::borrow::Cow;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    Missing(PathBuf),
    #[error("{0}")]
    Load(String),
    #[error("`{key}` {reason}")]
    Invalid {
        key: Cow<'static, str>,
        reason: String,
    },
}
