//! The model catalog as configured, limited to models whose provider is configured.

use crate::server::config::{CatalogConfig, ModelConfig, ProviderKind};

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
    /// Keeps the configured models whose provider `configured` accepts, in configured order, and picks the
    /// default model.
    pub fn new(config: &CatalogConfig, configured: impl Fn(&str) -> bool) -> Result<Self, String> {
        let models: Vec<ModelConfig> = config
            .models
            .iter()
            .filter(|m| configured(&m.provider))
            .cloned()
            .collect();
        if models.is_empty() {
            return Err(
                "no model can run: configure a provider or enable providers.builtin".into(),
            );
        }
        let default = if config.default_model.is_empty() {
            ProviderKind::DEFAULT_ORDER
                .iter()
                .find_map(|kind| models.iter().find(|m| m.provider == kind.name()))
                .unwrap_or(&models[0])
                .id
                .clone()
        } else if models.iter().any(|m| m.id == config.default_model) {
            config.default_model.clone()
        } else {
            return Err(format!(
                "`catalog.default_model` (PIXZOO_DEFAULT_MODEL) `{}` cannot run: its provider is not configured",
                config.default_model
            ));
        };
        Ok(Self { models, default })
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.models.iter().map(|m| m.id.as_str())
    }

    pub fn all(&self) -> &[ModelConfig] {
        &self.models
    }

    pub fn default_id(&self) -> &str {
        &self.default
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
    fn only_configured_providers_and_the_default_order() {
        let config = CatalogConfig::default();
        let builtin_only = ModelCatalog::new(&config, |p| p == "builtin").unwrap();
        assert_eq!(builtin_only.ids().collect::<Vec<_>>(), ["builtin"]);
        assert_eq!(builtin_only.resolve(None).unwrap().id, "builtin");
        let err = builtin_only
            .resolve(Some("flux-schnell"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("flux-schnell") && err.contains("builtin"),
            "hidden, not offered: {err}"
        );

        let cloudflare =
            ModelCatalog::new(&config, |p| p == "builtin" || p == "cloudflare").unwrap();
        assert_eq!(cloudflare.default_id(), "FLUX.1-Schnell-CF");
        let all = ModelCatalog::new(&config, |_| true).unwrap();
        assert_eq!(all.default_id(), "flux-schnell");
        let openai = ModelCatalog::new(&config, |p| p == "openai" || p == "a1111").unwrap();
        assert_eq!(openai.default_id(), "dall-e-3");

        let pinned = CatalogConfig {
            default_model: "DS-8-CF".into(),
            ..CatalogConfig::default()
        };
        assert_eq!(
            ModelCatalog::new(&pinned, |_| true).unwrap().default_id(),
            "DS-8-CF"
        );
        assert!(ModelCatalog::new(&pinned, |p| p == "builtin").is_err());
        assert!(ModelCatalog::new(&config, |_| false).is_err());
    }
}
