//! The model catalog as configured, limited to models whose provider is enabled.

use crate::server::config::{CatalogConfig, ModelConfig};

#[derive(Debug, Clone)]
pub struct ModelCatalog {
    models: Vec<ModelConfig>,
    default: String,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown model `{model}`; available models: {known}")]
pub struct UnknownModel {
    pub model: String,
    pub known: String,
}

impl UnknownModel {
    pub fn new(model: &str, catalog: &ModelCatalog) -> Self {
        Self {
            model: model.to_owned(),
            known: catalog.ids().collect::<Vec<_>>().join(", "),
        }
    }
}

impl ModelCatalog {
    /// Keeps the configured models whose provider `enabled` accepts, in configured order.
    pub fn new(config: &CatalogConfig, enabled: impl Fn(&str) -> bool) -> Self {
        Self {
            models: config
                .models
                .iter()
                .filter(|m| enabled(&m.provider))
                .cloned()
                .collect(),
            default: config.default_model.clone(),
        }
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.models.iter().map(|m| m.id.as_str())
    }

    pub fn all(&self) -> &[ModelConfig] {
        &self.models
    }

    /// The named model, or the default one for `None`.
    pub fn resolve(&self, id: Option<&str>) -> Result<&ModelConfig, UnknownModel> {
        let id = id.unwrap_or(&self.default);
        self.models
            .iter()
            .find(|m| m.id == id)
            .ok_or_else(|| UnknownModel::new(id, self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_default_named_and_unknown() {
        let config = CatalogConfig::default();
        let catalog = ModelCatalog::new(&config, |_| true);
        assert_eq!(catalog.resolve(None).unwrap().id, "builtin");
        assert_eq!(
            catalog.resolve(Some("builtin")).unwrap().provider,
            "builtin"
        );
        let err = catalog.resolve(Some("dall-e")).unwrap_err().to_string();
        assert!(err.contains("dall-e") && err.contains("builtin"), "{err}");
        let none = ModelCatalog::new(&config, |_| false);
        assert!(
            none.resolve(None).is_err(),
            "models of disabled providers are hidden"
        );
    }
}
