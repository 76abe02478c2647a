//! `[auth]`: the API key that guards generating through the API and deleting images.

use serde::{Deserialize, Serialize};

use crate::server::secret::Secret;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// When set, generating through the API and deleting images need `Authorization: Bearer <key>`.
    pub api_key: Secret,
}
