//! `GET /{W}x{H}/{slug}`: the URL is the prompt. Paths whose first segment is not a size go to the
//! site's static files and 404 page, as if this route did not exist.
//!
//! The query may add `model`, `seed`, `translate`, an edit (`image={id}`, `mask={id}`, `strength`) and
//! any transform option; an extension on the slug
//! (`.webp`, `.jpg`, `.png`, `.avif`) picks the format. The image is made at the model's nearest size and
//! cropped (`fit=cover` unless given) to exactly W×H.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};

use super::image_response::RequestHead;
use super::serve::{from_memory, memory_key, serve, Face, Named, ServeRequest};
use crate::server::auth::{Action, Caller, Via};
use crate::server::engine::{intake, GenerateRequest, Seed, Source};
use crate::server::error::ApiError;
use crate::server::guard::{Client, Signature};
use crate::server::state::AppState;
use crate::urls::options::{OutputFormat, TransformOptions};
use crate::urls::placeholder::{parse_size, prompt_from_slug, Size, SizeError};

// Eight extractors: the request itself must come last, whole, for the app's 404 page when the first
// segment is not a size, so the parts this route reads cannot be taken out of it in one.
#[allow(clippy::too_many_arguments)]
pub async fn placeholder(
    State(state): State<AppState>,
    client: Option<Extension<Client>>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    uri: Uri,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let Path((size, slug)) = match path {
        Ok(path) => path,
        Err(rejection) => return ApiError::BadRequest(rejection.body_text()).into_response(),
    };
    let size = match parse_size(&size, &state.limits) {
        Ok(size) => size,
        Err(SizeError::NotASize(_)) => {
            let not_ours = leptos_axum::file_and_error_handler::<AppState, _>(crate::app::shell);
            return not_ours(uri, State(state), request).await;
        }
        Err(err) => return ApiError::BadRequest(err.to_string()).into_response(),
    };
    let client = client.map_or_else(Client::unknown, |Extension(c)| c);
    // A copy: a borrow of `request` held across the await would need its body to be `Sync`.
    let method = request.method().clone();
    let head = RequestHead {
        method: &method,
        headers: &headers,
    };
    let url = PlaceholderUrl {
        size,
        slug: &slug,
        query,
        uri: &uri,
    };
    generate_and_serve(&state, &caller, client, head, url)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// What the URL asks for, as routed.
struct PlaceholderUrl<'a> {
    size: Size,
    slug: &'a str,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    uri: &'a Uri,
}

/// Parse, generate (or find), serve.
async fn generate_and_serve(
    state: &AppState,
    caller: &Caller,
    client: Client,
    head: RequestHead<'_>,
    url: PlaceholderUrl<'_>,
) -> Result<Response, ApiError> {
    let PlaceholderUrl {
        size,
        slug,
        query,
        uri,
    } = url;
    let (slug, extension) = split_extension(slug);
    let prompt =
        prompt_from_slug(slug, &state.limits).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let Query(pairs) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let params = Params::parse(pairs, size, extension)?;
    // A URL asked for before is answered from memory, unless it asks to make the image again. Only
    // what would be served is kept: a refusal is never.
    let key = params.memory_key(&prompt, head.headers);
    if !params.redo {
        if let Some(hot) = state.engine.memory().get(&key) {
            return Ok(from_memory(state, head, &hot));
        }
    }
    if params.redo && !caller.may(&state.auth, Via::Api, Action::Redo).await {
        return Err(ApiError::Forbidden(
            "`redo` makes the image again and needs the API key (Authorization: Bearer <key>); without one configured it is off".into(),
        ));
    }
    let signature = if state.guard.signs_urls() {
        state
            .guard
            .signature(uri.path(), uri.query(), params.sig.as_deref())
    } else {
        Signature::NotRequired
    };

    let ticket = state.guard.ticket(client.clone(), signature);
    let edit = match params.image {
        Some(image) => Some(
            state
                .engine
                .edit(
                    Source::Id(image),
                    params.mask.map(Source::Id),
                    params.strength,
                    ticket.as_ref(),
                )
                .await?,
        ),
        None => None,
    };
    let plan = state.engine.plan(GenerateRequest {
        model: params.model,
        prompt,
        negative_prompt: None,
        seed: Seed::given_or(params.seed, Seed::FromPrompt),
        steps: None,
        size: Some(size),
        translate: params.translate,
        redo: params.redo,
        edit,
    })?;
    let generated = state.engine.generate(plan, ticket).await?;
    let record = generated.record;
    let sources = [record.source_id.clone(), record.mask_id.clone()];
    let to_serve = ServeRequest {
        face: Face::Placeholder {
            size,
            generated: generated.cache,
            original: generated.bytes,
            sources: sources.into_iter().flatten().collect(),
        },
        record,
        options: params.options,
        signature,
        key,
    };
    serve(state, caller, client, head, to_serve).await
}

/// `sloth.webp` → (`sloth`, webp); unknown extensions stay part of the prompt.
fn split_extension(slug: &str) -> (&str, Option<OutputFormat>) {
    match slug.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => match OutputFormat::from_extension(ext) {
            Some(format) => (stem, Some(format)),
            None => (slug, None),
        },
        _ => (slug, None),
    }
}

/// The query, sorted into generation parameters and transform options.
struct Params {
    model: Option<String>,
    seed: Option<u32>,
    translate: bool,
    /// `sig`: the URL's signature, when it has one.
    sig: Option<String>,
    redo: bool,
    /// `image`, `mask`, `strength`: edit a stored image by URL.
    image: Option<String>,
    mask: Option<String>,
    strength: Option<u8>,
    options: TransformOptions,
}

impl Params {
    fn parse(
        pairs: Vec<(String, String)>,
        size: Size,
        extension: Option<OutputFormat>,
    ) -> Result<Self, ApiError> {
        let bad = |message: String| ApiError::BadRequest(message);
        let mut params = Params {
            model: None,
            seed: None,
            translate: true,
            sig: None,
            redo: false,
            image: None,
            mask: None,
            strength: None,
            options: TransformOptions::default(),
        };
        for (name, value) in pairs {
            match name.as_str() {
                "model" => params.model = Some(value),
                "seed" => {
                    params.seed = Some(value.parse().map_err(|_| {
                        bad(format!(
                            "seed `{value}` must be a whole number from 0 to {}",
                            u32::MAX
                        ))
                    })?)
                }
                "translate" => params.translate = parse_flag("translate", &value)?,
                "redo" => params.redo = parse_flag("redo", &value)?,
                "sig" => params.sig = Some(value),
                "image" => params.image = Some(value),
                "mask" => params.mask = Some(value),
                "strength" => {
                    let parsed = value.parse::<f64>().map_err(|_| {
                        bad(format!("strength `{value}` must be a number from 0 to 1"))
                    })?;
                    params.strength = Some(intake::strength(parsed)?)
                }
                "width" | "w" | "height" | "h" => {
                    return Err(bad(format!(
                        "`{name}` cannot be set here: the size comes from the path ({size})"
                    )))
                }
                _ => params
                    .options
                    .set(&name, &value)
                    .map_err(|e| bad(e.to_string()))?,
            }
        }
        if params.image.is_none() && (params.mask.is_some() || params.strength.is_some()) {
            return Err(bad(
                "`mask` and `strength` change an image: give it as `image={id}`".into(),
            ));
        }
        if let Some(ext) = extension {
            match params.options.format {
                Some(format) if format != ext => {
                    return Err(bad(format!(
                        "the extension asks for {} but format={} was given",
                        ext.as_str(),
                        format.as_str()
                    )))
                }
                _ => params.options.format = Some(ext),
            }
        }
        params.options.width = Some(size.width);
        params.options.height = Some(size.height);
        Ok(params)
    }

    /// The memory cache's key for this URL: everything in it that picks the image and what is made of
    /// it (the prompt as the slug reads, not `sig` or `redo`), each value encoded so that no two URLs
    /// asking for different things share a key; for `format=auto`, the format chosen from `Accept`.
    fn memory_key(&self, prompt: &str, headers: &HeaderMap) -> String {
        let mut picks = form_urlencoded::Serializer::new(String::new());
        picks.append_pair("prompt", prompt);
        let optional = [
            ("model", self.model.clone()),
            ("seed", self.seed.map(|seed| seed.to_string())),
            ("translate", (!self.translate).then(|| "0".to_owned())),
            ("image", self.image.clone()),
            ("mask", self.mask.clone()),
            ("strength", self.strength.map(|s| s.to_string())),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                picks.append_pair(name, &value);
            }
        }
        let picks = picks.finish();
        memory_key(
            Named::Placeholder {
                picks,
                options: &self.options,
            },
            headers,
        )
    }
}

fn parse_flag(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "" | "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(ApiError::BadRequest(format!(
            "{name} `{other}` must be true or false"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(query: &[(&str, &str)], accept: &str) -> String {
        let pairs = query
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        let size = Size {
            width: 8,
            height: 6,
        };
        let mut headers = HeaderMap::new();
        headers.insert("accept", accept.parse().unwrap());
        Params::parse(pairs, size, None)
            .unwrap()
            .memory_key("a fox", &headers)
    }

    #[test]
    fn a_url_is_remembered_by_what_it_asks_not_by_its_signature() {
        let plain = key(&[], "*/*");
        assert_eq!(key(&[("sig", "abc")], "*/*"), plain);
        assert_eq!(key(&[("redo", "")], "*/*"), plain, "redo looks nothing up");
        assert_eq!(key(&[("translate", "yes")], "*/*"), plain);
        assert_ne!(key(&[("translate", "no")], "*/*"), plain);
        // A value cannot pass for another parameter.
        assert_ne!(
            key(&[("model", "m&seed=5")], "*/*"),
            key(&[("model", "m"), ("seed", "5")], "*/*")
        );
        assert_ne!(key(&[("blur", "2")], "*/*"), plain);
        assert_eq!(
            key(&[], "image/webp"),
            plain,
            "no format=auto: Accept is moot"
        );
        let auto = |accept| key(&[("format", "auto")], accept);
        assert_ne!(auto("image/webp"), auto("image/jpeg"));
        assert_eq!(auto("image/webp"), auto("image/webp,image/*"));
    }

    #[test]
    fn extensions_pick_formats() {
        assert_eq!(
            split_extension("sloth.webp"),
            ("sloth", Some(OutputFormat::Webp))
        );
        assert_eq!(
            split_extension("sloth.JPG"),
            ("sloth", Some(OutputFormat::Jpeg))
        );
        assert_eq!(split_extension("sloth.v2"), ("sloth.v2", None));
        assert_eq!(split_extension(".png"), (".png", None));
        assert_eq!(split_extension("no-dot"), ("no-dot", None));
    }
}
