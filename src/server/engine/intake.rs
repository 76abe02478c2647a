//! The one intake: every face (placeholder URLs, the JSON API, the OpenAI endpoint, the studio and its
//! form post) fills a [`GenerateRequest`] from its own wire format, and [`Plan::new`] turns it into
//! what the engine runs: the model resolved once, its rules applied, the seed chosen by policy, and the
//! request key that identical requests share.

use bytes::Bytes;

use super::errors::EngineError;
use super::keys;
use super::models::{ModelCatalog, NotAble};
use crate::server::config::{Capability, ModelConfig};
use crate::server::storage::ImageRecord;
use crate::urls::placeholder::Size;

/// How far an edit goes from its source when the request does not say, in hundredths.
pub const DEFAULT_STRENGTH: u8 = 75;

/// The size made when a request names none and has no source to take it from.
pub const DEFAULT_SIZE: Size = Size {
    width: 1024,
    height: 1024,
};

/// How the seed is chosen for a model that takes one (a model that takes none always gets 0, so a
/// seed cannot split its cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    /// Derived from the prompt, so the same prompt always means the same image (URLs, the API).
    FromPrompt,
    /// The n-th of several images for one prompt: the prompt's seed plus n (OpenAI's `n`).
    Nth(u32),
    /// A fresh random seed, so each press of Generate makes a new image (the studio).
    Random,
    Given(u32),
}

impl Seed {
    /// `Given` when the client named one, otherwise `fallback`.
    pub fn given_or(seed: Option<u32>, fallback: Seed) -> Seed {
        seed.map_or(fallback, Seed::Given)
    }

    fn pick(self, prompt: &str) -> u32 {
        match self {
            Seed::FromPrompt => keys::seed_for(prompt),
            Seed::Nth(n) => keys::seed_for(prompt).wrapping_add(n),
            Seed::Random => rand::random(),
            Seed::Given(seed) => seed,
        }
    }
}

/// A prompt as every face accepts it: trimmed, and not empty. Faces that check their fields in order
/// call it where the prompt comes; [`Plan::new`] calls it again for those that do not.
pub fn prompt(text: &str) -> Result<String, EngineError> {
    let prompt = text.trim();
    if prompt.is_empty() {
        return Err(EngineError::EmptyPrompt);
    }
    Ok(prompt.to_owned())
}

/// `strength` as the JSON faces send it, 0 to 1 (how far from the source), in the hundredths
/// [`Edit::strength`] is kept in, so that 0.5 and 0.500 are one image. [`Plan::new`] checks the range.
pub fn strength(value: f64) -> Result<u8, EngineError> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok((value * 100.0).round() as u8)
    } else {
        Err(strength_out_of_range(value))
    }
}

fn strength_out_of_range(value: impl std::fmt::Display) -> EngineError {
    EngineError::BadRequest(format!(
        "strength {value} must be a number from 0 (keep the source) to 1 (ignore it)"
    ))
}

/// An image a request names to edit (or to edit with), as the face has it: `Engine::edit` finds or
/// uploads it, for an [`Edit`].
#[derive(Debug, Clone)]
pub enum Source {
    /// A stored image (generated, uploaded or edited).
    Id(String),
    /// Bytes sent with the request (a `data:` URI, a multipart file): uploaded first.
    Bytes { bytes: Bytes, name: Option<String> },
}

/// The image to change (and where), as stored: each face finds or uploads it first
/// (`Engine::source`), so every face's edit is planned from the same records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub source: ImageRecord,
    /// White changes, black keeps; any size (it is scaled to the source's).
    pub mask: Option<ImageRecord>,
    /// Hundredths, at most 100; `None` is [`DEFAULT_STRENGTH`].
    pub strength: Option<u8>,
}

impl Edit {
    /// The size an edit is made at when the request names none: the source's.
    fn source_size(&self) -> Size {
        Size {
            width: self.source.width,
            height: self.source.height,
        }
    }
}

/// An edit with its strength chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditPlan {
    pub source: ImageRecord,
    pub mask: Option<ImageRecord>,
    pub strength: u8,
}

/// What a client asked for, in the engine's terms, before the model's rules are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateRequest {
    /// A catalog id; `None` means the default model.
    pub model: Option<String>,
    /// Trimmed here; an empty prompt is [`EngineError::EmptyPrompt`].
    pub prompt: String,
    pub negative_prompt: Option<String>,
    pub seed: Seed,
    pub steps: Option<u32>,
    /// The size the client wants (the model generates the nearest size it supports); `None` is an
    /// edit's source size, else [`DEFAULT_SIZE`].
    pub size: Option<Size>,
    /// Run the prompt pipeline (translate and optimise).
    pub translate: bool,
    /// Make the image again even if one is stored for this request; the new one takes its place for
    /// this request (the old one stays reachable by id).
    pub redo: bool,
    /// Change this image instead of making one from nothing; the prompt may then be empty (a
    /// variation) for models that can.
    pub edit: Option<Edit>,
}

/// A request with the model's rules applied: what will be asked of the provider, minus the final prompt.
#[derive(Debug, Clone)]
pub struct Plan {
    pub model: ModelConfig,
    pub prompt: String,
    pub negative_prompt: Option<String>,
    pub seed: u32,
    pub steps: Option<u32>,
    pub size: Size,
    pub translate: bool,
    pub redo: bool,
    pub edit: Option<EditPlan>,
}

impl Plan {
    pub fn new(models: &ModelCatalog, request: GenerateRequest) -> Result<Self, EngineError> {
        let prompt = match &request.edit {
            // A variation: the source alone.
            Some(_) => request.prompt.trim().to_owned(),
            None => prompt(&request.prompt)?,
        };
        let needs = match &request.edit {
            None => Capability::Generate,
            Some(edit) if edit.mask.is_some() => {
                if prompt.is_empty() {
                    return Err(EngineError::BadRequest(
                        "an edit inside a mask needs a prompt saying what to paint there".into(),
                    ));
                }
                Capability::Inpaint
            }
            Some(_) if prompt.is_empty() => Capability::Variations,
            Some(_) => Capability::Edit,
        };
        if let Some(strength) = request.edit.as_ref().and_then(|e| e.strength) {
            if strength > 100 {
                return Err(strength_out_of_range(f64::from(strength) / 100.0));
            }
        }
        let model = models
            .resolve_for(request.model.as_deref(), needs)
            .map_err(|err| match err {
                NotAble::Unknown(unknown) => EngineError::UnknownModel(unknown),
                NotAble::Missing(message) => EngineError::Incapable(message),
            })?;
        let steps = match (model.steps, request.steps) {
            (Some(range), Some(steps)) if !(range.min..=range.max).contains(&steps) => {
                return Err(EngineError::BadRequest(format!(
                    "steps {steps} is out of range for model `{}`: {}..={}",
                    model.id, range.min, range.max
                )))
            }
            (Some(range), steps) => Some(steps.unwrap_or(range.default)),
            (None, _) => None,
        };
        // Inputs a model ignores must not split its cache.
        let seed = if model.seed {
            request.seed.pick(&prompt)
        } else {
            0
        };
        let negative_prompt = request
            .negative_prompt
            .filter(|n| model.negative_prompt && !n.trim().is_empty());
        Ok(Self {
            model: model.clone(),
            negative_prompt,
            seed,
            steps,
            size: request
                .size
                .or_else(|| request.edit.as_ref().map(Edit::source_size))
                .unwrap_or(DEFAULT_SIZE),
            // Nothing to translate in a variation.
            translate: request.translate && !prompt.is_empty(),
            redo: request.redo,
            edit: request.edit.map(|edit| EditPlan {
                source: edit.source,
                mask: edit.mask,
                strength: edit.strength.unwrap_or(DEFAULT_STRENGTH),
            }),
            prompt,
        })
    }

    /// The source, mask and strength as the generation key takes them.
    pub fn edit_key(&self) -> Option<keys::EditKey<'_>> {
        self.edit.as_ref().map(|edit| keys::EditKey {
            source_hash: &edit.source.content_hash,
            mask_hash: edit.mask.as_ref().map(|m| m.content_hash.as_str()),
            strength: edit.strength,
        })
    }

    /// What makes two requests identical before the prompt pipeline runs.
    pub fn request_key(&self) -> String {
        let mut key = keys::generation_key(&keys::KeyParts {
            model: &self.model.id,
            prompt: &self.prompt,
            negative_prompt: self.negative_prompt.as_deref(),
            seed: self.seed,
            steps: self.steps,
            size: self.size,
            edit: self.edit_key(),
        });
        key.push(if self.translate { 't' } else { 'r' });
        if self.redo {
            key.push('!');
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::CatalogConfig;

    fn request(model: &str, seed: Seed) -> GenerateRequest {
        GenerateRequest {
            model: Some(model.into()),
            prompt: "  a red fox ".into(),
            negative_prompt: Some("blurry".into()),
            seed,
            steps: None,
            size: Some(Size {
                width: 640,
                height: 480,
            }),
            translate: true,
            redo: false,
            edit: None,
        }
    }

    fn models() -> ModelCatalog {
        ModelCatalog::new(&CatalogConfig::default(), |_| true).unwrap()
    }

    #[test]
    fn seed_policies_are_data() {
        let models = models();
        let plan = |seed| Plan::new(&models, request("flux-schnell", seed)).unwrap();
        let derived = keys::seed_for("a red fox");
        assert_eq!(
            plan(Seed::FromPrompt).seed,
            derived,
            "trimmed before deriving"
        );
        assert_eq!(plan(Seed::Nth(0)).seed, derived);
        assert_eq!(plan(Seed::Nth(3)).seed, derived.wrapping_add(3));
        assert_eq!(plan(Seed::Given(7)).seed, 7);
        let randoms: std::collections::HashSet<u32> =
            (0..8).map(|_| plan(Seed::Random).seed).collect();
        assert!(randoms.len() > 1, "random seeds differ");
        assert_eq!(
            Plan::new(&models, request("builtin", Seed::Given(7)))
                .unwrap()
                .seed,
            7
        );
    }

    #[test]
    fn what_a_model_ignores_cannot_split_its_cache() {
        let models = models();
        let no_seed = models
            .all()
            .iter()
            .find(|m| !m.seed)
            .expect("a default model without seeds");
        let a = Plan::new(&models, request(&no_seed.id, Seed::Given(1))).unwrap();
        let b = Plan::new(&models, request(&no_seed.id, Seed::Random)).unwrap();
        assert_eq!((a.seed, b.seed), (0, 0));
        assert_eq!(a.request_key(), b.request_key());
    }

    #[test]
    fn validated_once_with_the_problem_named() {
        let models = models();
        let mut empty = request("flux-schnell", Seed::FromPrompt);
        empty.prompt = "   ".into();
        assert!(matches!(
            Plan::new(&models, empty),
            Err(EngineError::EmptyPrompt)
        ));
        assert!(matches!(
            Plan::new(&models, request("no-such-model", Seed::FromPrompt)),
            Err(EngineError::UnknownModel(_))
        ));
        let mut steps = request("flux-schnell", Seed::FromPrompt);
        steps.steps = Some(10_000);
        let err = Plan::new(&models, steps).unwrap_err().to_string();
        assert!(err.contains("steps 10000 is out of range"), "{err}");
        let mut default = request("", Seed::FromPrompt);
        default.model = None;
        assert_eq!(
            Plan::new(&models, default).unwrap().model.id,
            models.default_id()
        );
    }
}
