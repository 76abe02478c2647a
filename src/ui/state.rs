//! What the browser keeps for the whole visit: the studio's form, its running generation and the URL
//! maker's inputs. Provided once by the app, so leaving a page and coming back finds everything as it
//! was, and a generation keeps running (and reporting) while the user looks at the gallery.

use leptos::prelude::*;
use leptos_router::params::ParamsMap;

use crate::wire::studio::{FormProblem, GenerateForm, JobView};

/// Which of the studio's two forms is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// An image from a prompt.
    Generate,
    /// A stored or uploaded image changed as a prompt says.
    Edit,
}

#[derive(Debug, Clone, Copy)]
pub struct StudioState {
    pub mode: RwSignal<Mode>,
    /// Edit mode: the stored image to change (uploaded first when it came from this computer).
    pub source: RwSignal<Option<String>>,
    /// Edit mode: how far from the source, in hundredths.
    pub strength: RwSignal<u8>,
    /// Edit mode: what is painted, as a PNG data URL (`None`: nothing, so the whole image changes).
    pub mask: RwSignal<Option<String>>,
    pub prompt: RwSignal<String>,
    /// Empty until the user picks one: the catalog's default model.
    pub model_id: RwSignal<String>,
    pub width: RwSignal<u32>,
    pub height: RwSignal<u32>,
    /// `None`: the model's default.
    pub steps: RwSignal<Option<u32>>,
    pub fixed_seed: RwSignal<bool>,
    pub seed: RwSignal<u32>,
    pub negative: RwSignal<String>,
    pub translate: RwSignal<bool>,

    /// A file or a mask is on its way to the server.
    pub uploading: RwSignal<bool>,
    pub job: RwSignal<Option<JobView>>,
    pub problem: RwSignal<Option<String>>,
    pub running: RwSignal<bool>,
    pub started_ms: RwSignal<f64>,
    pub elapsed: RwSignal<f64>,
    /// The form that made the current result, for "Re-run".
    pub last_form: RwSignal<Option<GenerateForm>>,
    /// Bumped when a generation finishes, so image lists can refresh.
    pub generated: RwSignal<u32>,
}

impl StudioState {
    fn new() -> Self {
        Self {
            mode: RwSignal::new(Mode::Generate),
            source: RwSignal::new(None),
            strength: RwSignal::new(75),
            mask: RwSignal::new(None),
            prompt: RwSignal::new(String::new()),
            model_id: RwSignal::new(String::new()),
            width: RwSignal::new(1024),
            height: RwSignal::new(1024),
            steps: RwSignal::new(None),
            fixed_seed: RwSignal::new(false),
            seed: RwSignal::new(42),
            negative: RwSignal::new(String::new()),
            translate: RwSignal::new(true),
            uploading: RwSignal::new(false),
            job: RwSignal::new(None),
            problem: RwSignal::new(None),
            running: RwSignal::new(false),
            started_ms: RwSignal::new(0.0),
            elapsed: RwSignal::new(0.0),
            last_form: RwSignal::new(None),
            generated: RwSignal::new(0),
        }
    }

    /// Fills the form from `/?prompt=…&model=…&width=…` (an image page's "Re-run", or the form coming
    /// back from a post without JavaScript with `error=…`), and picks the mode: `mode=edit`, or
    /// `source={id}` (an image page's "Edit this image"). Leaves the form alone without either.
    pub fn apply_query(&self, query: &ParamsMap) {
        let source = query.get("source").filter(|id| is_image_id(id));
        if source.is_some() || query.get("mode").as_deref() == Some("edit") {
            self.mode.set(Mode::Edit);
            if source.is_some() && source != self.source.get_untracked() {
                self.source.set(source);
                self.mask.set(None);
            }
        } else if query.get("prompt").is_some() {
            self.mode.set(Mode::Generate);
        }
        if self.mode.get_untracked() == Mode::Edit {
            self.problem.set(
                query
                    .get("error")
                    .and_then(|code| FormProblem::from_code(&code))
                    .map(FormProblem::message)
                    .map(str::to_owned),
            );
            if let Some(prompt) = query.get("prompt") {
                self.prompt.set(prompt);
            }
            return;
        }
        let Some(prompt) = query.get("prompt") else {
            return;
        };
        let number = |key: &str| query.get(key).and_then(|v| v.trim().parse::<u32>().ok());
        self.prompt.set(prompt);
        self.model_id.set(query.get("model").unwrap_or_default());
        if let (Some(w), Some(h)) = (number("width"), number("height")) {
            self.width.set(w);
            self.height.set(h);
        }
        self.steps.set(number("steps"));
        self.fixed_seed.set(number("seed").is_some());
        if let Some(seed) = number("seed") {
            self.seed.set(seed);
        }
        self.negative
            .set(query.get("negative_prompt").unwrap_or_default());
        self.translate
            .set(query.get("translate").is_none_or(|t| t != "0"));
        // Only a code the server put there: free text from a link is never shown.
        self.problem.set(
            query
                .get("error")
                .and_then(|code| FormProblem::from_code(&code))
                .map(|problem| problem.describe(number("width").zip(number("height")))),
        );
    }

    /// The Edit form as it stands, with the mask's id once it is uploaded. The size is the source's
    /// (0 × 0 asks for it).
    pub fn edit_form(&self, mask: Option<String>) -> GenerateForm {
        GenerateForm {
            width: 0,
            height: 0,
            steps: None,
            seed: None,
            negative_prompt: None,
            source: self.source.get_untracked(),
            mask,
            strength: Some(self.strength.get_untracked()),
            ..self.form()
        }
    }

    /// The form as it stands.
    pub fn form(&self) -> GenerateForm {
        GenerateForm {
            prompt: self.prompt.get_untracked(),
            model: self.model_id.get_untracked(),
            width: self.width.get_untracked(),
            height: self.height.get_untracked(),
            steps: self.steps.get_untracked(),
            seed: self
                .fixed_seed
                .get_untracked()
                .then(|| self.seed.get_untracked()),
            negative_prompt: Some(self.negative.get_untracked()).filter(|n| !n.trim().is_empty()),
            translate: self.translate.get_untracked(),
            source: None,
            mask: None,
            strength: None,
        }
    }
}

/// Image ids are 32 lowercase hex digits; anything else in a link is not one.
fn is_image_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The URL maker's inputs.
#[derive(Debug, Clone, Copy)]
pub struct MakerState {
    pub width: RwSignal<String>,
    pub height: RwSignal<String>,
    pub prompt: RwSignal<String>,
    /// Empty: the server's default model.
    pub model: RwSignal<String>,
    /// Empty: the seed the words give.
    pub seed: RwSignal<String>,
    /// The URL whose image is shown, once asked for.
    pub preview: RwSignal<Option<String>>,
    /// (URL, the same URL signed), when signed URLs are on and it was signed.
    pub signed: RwSignal<Option<(String, String)>>,
    /// Why signing was refused.
    pub problem: RwSignal<Option<String>>,
}

impl MakerState {
    fn new() -> Self {
        Self {
            width: RwSignal::new("800".into()),
            height: RwSignal::new("600".into()),
            prompt: RwSignal::new("sunglasses sloth".into()),
            model: RwSignal::new(String::new()),
            seed: RwSignal::new(String::new()),
            preview: RwSignal::new(None),
            signed: RwSignal::new(None),
            problem: RwSignal::new(None),
        }
    }
}

pub fn provide_state() {
    provide_context(StudioState::new());
    provide_context(MakerState::new());
}

pub fn studio_state() -> StudioState {
    expect_context()
}

pub fn maker_state() -> MakerState {
    expect_context()
}
