//! `[auth]`: the API key that guards generating through the API and deleting images.

use serde::{Deserialize, Serialize};

use super::check::long_secret;
use super::ConfigError;
use crate::server::secret::Secret;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// When set, generating through the API and deleting images need `Authorization: Bearer <key>`.
    pub api_key: Secret,
}

impl AuthConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        long_secret("auth.api_key", "API_KEY", &self.api_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_api_key_is_refused_naming_the_setting_and_the_minimum() {
        let short = AuthConfig {
            api_key: Secret::new("hunter2"),
        };
        let message = short.validate().unwrap_err().to_string();
        assert!(
            message.contains("auth.api_key")
                && message.contains("API_KEY")
                && message.contains("16"),
            "{message}"
        );
        assert!(
            !message.contains("hunter2"),
            "the key itself is not repeated: {message}"
        );
        for fine in ["", "0123456789abcdef"] {
            let config = AuthConfig {
                api_key: Secret::new(fine),
            };
            assert!(config.validate().is_ok(), "{fine:?}");
        }
    }
}
