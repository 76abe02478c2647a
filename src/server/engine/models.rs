//! The model catalog as configured, limited to models whose provider is configured.

use crate::server::config::{Capability, CatalogConfig, ModelConfig, ProviderKind};

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
            first_that_can(&models, Capability::Generate)
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

    /// The models that can do `capability`, in catalog order.
    pub fn able(&self, capability: Capability) -> impl Iterator<Item = &ModelConfig> {
        self.models.iter().filter(move |m| m.can(capability))
    }

    /// The named model if it can do what the request needs, or for `None` the default model if it
    /// can, else the first that can in the default provider order.
    pub fn resolve_for(
        &self,
        id: Option<&str>,
        capability: Capability,
    ) -> Result<&ModelConfig, NotAble> {
        let model = match id {
            Some(id) => self.resolve(Some(id))?,
            None => match self.resolve(None).ok().filter(|m| m.can(capability)) {
                Some(model) => model,
                None => first_that_can(&self.models, capability).ok_or_else(|| {
                    NotAble::Missing(format!(
                        "no configured model can {}; configure a provider whose models can",
                        capability.what()
                    ))
                })?,
            },
        };
        if model.can(capability) {
            return Ok(model);
        }
        let able: Vec<&str> = self.able(capability).map(|m| m.id.as_str()).collect();
        Err(NotAble::Missing(if able.is_empty() {
            format!(
                "model `{}` cannot {}, and no configured model can",
                model.id,
                capability.what()
            )
        } else {
            format!(
                "model `{}` cannot {}; models that can: {}",
                model.id,
                capability.what(),
                able.join(", ")
            )
        }))
    }
}

/// Why a request found no model for what it needs.
#[derive(Debug, thiserror::Error)]
pub enum NotAble {
    #[error(transparent)]
    Unknown(#[from] UnknownModel),
    /// The model cannot (or none can); the message names those that can.
    #[error("{0}")]
    Missing(String),
}

/// The first model of the first configured provider in the default order that can.
fn first_that_can(models: &[ModelConfig], capability: Capability) -> Option<&ModelConfig> {
    ProviderKind::DEFAULT_ORDER.iter().find_map(|kind| {
        models
            .iter()
            .find(|m| m.provider == kind.name() && m.can(capability))
    })
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

    #[test]
    fn edits_go_to_models_that_can() {
        let config = CatalogConfig::default();
        let cloudflare =
            ModelCatalog::new(&config, |p| p == "builtin" || p == "cloudflare").unwrap();
        let pick = |id, capability| {
            cloudflare
                .resolve_for(id, capability)
                .map(|m| m.id.clone())
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            pick(None, Capability::Generate).unwrap(),
            "FLUX.1-Schnell-CF"
        );
        assert_eq!(pick(None, Capability::Edit).unwrap(), "SD-1.5-Img2Img-CF");
        assert_eq!(
            pick(None, Capability::Inpaint).unwrap(),
            "SD-1.5-Inpainting-CF"
        );
        assert_eq!(
            pick(Some("builtin"), Capability::Inpaint).unwrap(),
            "builtin"
        );
        let err = pick(Some("DS-8-CF"), Capability::Edit).unwrap_err();
        assert!(
            err.contains("`DS-8-CF` cannot edit an image")
                && err.contains("SD-1.5-Img2Img-CF, builtin"),
            "{err}"
        );
        let err = pick(Some("SD-1.5-Img2Img-CF"), Capability::Generate).unwrap_err();
        assert!(err.contains("from a prompt alone"), "{err}");
        assert!(pick(Some("nope"), Capability::Edit)
            .unwrap_err()
            .contains("unknown model"));
        assert_eq!(
            ModelCatalog::new(&config, |p| p == "builtin")
                .unwrap()
                .resolve_for(None, Capability::Variations)
                .unwrap()
                .id,
            "builtin"
        );
    }
}
