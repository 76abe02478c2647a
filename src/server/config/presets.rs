//! `[presets]`: named option strings for `/img/{id}/preset=NAME` (`server::presets` expands them).

use serde::{Deserialize, Serialize};

use super::check::invalid;
use super::ConfigError;

/// `[presets]`: name to options. The shipped ones stay unless a file redefines them; a file adds its
/// own beside them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PresetsConfig(pub std::collections::BTreeMap<String, String>);

impl Default for PresetsConfig {
    fn default() -> Self {
        Self(
            [
                ("thumb", "width=256,height=256,fit=cover,format=auto"),
                ("card", "width=800,height=450,fit=cover,format=auto"),
            ]
            .into_iter()
            .map(|(name, options)| (name.to_owned(), options.to_owned()))
            .collect(),
        )
    }
}

impl PresetsConfig {
    /// Every name is well formed and every option string parses.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Err(err) = crate::server::presets::Presets::new(&self.0) {
            return invalid("presets", err.to_string());
        }
        Ok(())
    }
}
