//! The studio's plain HTML form posts: signing in and out, and generating and editing without
//! JavaScript. Each
//! answers with a redirect (303) to a page, so the back button and a reload do the right thing. With
//! JavaScript the studio polls its generation instead, but sign-in and sign-out go through here too.

use std::net::SocketAddr;

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::limits::Admit;
use super::sources;
use crate::server::auth::{Action, Caller, Via};
use crate::server::engine::Source;
use crate::server::error::ApiError;
use crate::server::state::AppState;
use crate::server::studio::form as studio;
use crate::urls::pages::{gallery_path, sign_in_path, sign_in_wait_path, studio_path};
use crate::wire::studio::{FormProblem, GenerateForm};

#[derive(Debug, Deserialize)]
pub struct SignIn {
    #[serde(default)]
    key: String,
    /// Where to go once signed in: a path on this site.
    #[serde(default)]
    next: String,
}

/// A local path to return to; anything else becomes `/`. Browsers drop tabs and newlines from a
/// `Location` and read `\\` as `/`, so `/\t/evil.example` would leave the site: only visible ASCII
/// without backslashes is accepted, and never a second leading slash.
fn local_path(next: &str) -> &str {
    let safe = next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if safe && next.starts_with('/') && !next.starts_with("//") {
        next
    } else {
        "/"
    }
}

pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    extensions: Extensions,
    Form(form): Form<SignIn>,
) -> Result<Response, ApiError> {
    let next = local_path(&form.next);
    // By address, whatever credentials came along: a wrong bearer key must not pick the bucket.
    let client = state.guard.clients.client(&headers, peer(&extensions));
    let throttle = &state.guard.sign_ins;
    if let Some(wait) = throttle.wait(&client) {
        metrics::counter!("pixzoo_refusals_total", "reason" => "sign_in_limit").increment(1);
        // Back to the page, which says how long to wait (a person reads this answer, not a
        // program), with the wait in `Retry-After` too.
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut answer = Redirect::to(&sign_in_wait_path(next, seconds)).into_response();
        answer
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, seconds.into());
        return Ok(answer);
    }
    if !state.auth.key_matches(form.key.trim()) {
        throttle.failed(&client);
        let again = sign_in_path(next, true);
        return Ok(Redirect::to(&again).into_response());
    }
    throttle.succeeded(&client);
    let sessions = &state.auth.sessions;
    let cookie = sessions
        .sign_in(sessions.over_tls(&headers))
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "recording a studio sign-in failed");
            ApiError::Internal
        })?;
    Ok((jar.add(cookie), Redirect::to(next)).into_response())
}

fn peer(extensions: &Extensions) -> Option<SocketAddr> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}

pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<Response, ApiError> {
    let sessions = &state.auth.sessions;
    let tls = sessions.over_tls(&headers);
    let cleared = sessions.sign_out(&jar, tls).await.map_err(|err| {
        tracing::error!(error = %err, "ending a studio sign-in failed");
        ApiError::Internal
    })?;
    Ok((jar.remove(cleared), Redirect::to("/")).into_response())
}

/// The prompt form as a browser posts it: every field a string, checkboxes present only when ticked.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Generate {
    prompt: String,
    model: String,
    width: String,
    height: String,
    steps: String,
    fixed_seed: Option<String>,
    seed: String,
    negative_prompt: String,
    translate: Option<String>,
}

impl Generate {
    fn to_form(&self) -> Result<GenerateForm, FormProblem> {
        let whole = |value: &str| value.trim().parse::<u32>().map_err(|_| FormProblem::Number);
        let optional = |value: &str| {
            if value.trim().is_empty() {
                Ok(None)
            } else {
                whole(value).map(Some)
            }
        };
        Ok(GenerateForm {
            prompt: self.prompt.clone(),
            model: self.model.clone(),
            width: whole(&self.width)?,
            height: whole(&self.height)?,
            steps: optional(&self.steps)?,
            seed: match self.fixed_seed {
                Some(_) => optional(&self.seed)?,
                None => None,
            },
            negative_prompt: Some(self.negative_prompt.clone()).filter(|n| !n.trim().is_empty()),
            translate: self.translate.is_some(),
            source: None,
            mask: None,
            strength: None,
        })
    }

    /// The studio again, filled in with what was posted, and the code of the problem to show beside it.
    fn back_with(&self, problem: FormProblem) -> Redirect {
        let mut query = vec![
            ("prompt", self.prompt.as_str()),
            ("model", self.model.as_str()),
            ("width", self.width.as_str()),
            ("height", self.height.as_str()),
            ("steps", self.steps.as_str()),
            ("negative_prompt", self.negative_prompt.as_str()),
            (
                "translate",
                if self.translate.is_some() { "1" } else { "0" },
            ),
            ("error", problem.code()),
        ];
        if self.fixed_seed.is_some() {
            query.push(("seed", self.seed.as_str()));
        }
        Redirect::to(&studio_path(&query))
    }
}

/// Generates and shows the result on the image's page; problems go back to the filled-in form.
pub async fn generate(
    State(state): State<AppState>,
    caller: Caller,
    Admit(admission): Admit,
    Form(posted): Form<Generate>,
) -> Redirect {
    if !caller.may(&state.auth, Via::Studio, Action::Generate).await {
        return posted.back_with(FormProblem::SignIn);
    }
    let form = match posted.to_form() {
        Ok(form) => form,
        Err(problem) => return posted.back_with(problem),
    };
    let (plan, _) = match studio::plan(&state, form, admission.as_ref()).await {
        Ok(plan) => plan,
        Err(problem) => return posted.back_with(problem.code),
    };
    match state.engine.generate(plan, admission).await {
        Ok(generated) => Redirect::to(&gallery_path(&generated.record.id)),
        Err(err) => {
            tracing::info!(error = %err, "the studio's form post did not make an image");
            posted.back_with(studio::Problem::of(&err).code)
        }
    }
}

/// The studio's Edit form posted without JavaScript (multipart): the file to edit as `image` (or a
/// stored image's id as `source`), with `prompt`, `model` and `strength` (0-100). The result's page
/// answers; a problem goes back to the Edit form.
pub async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    Admit(admission): Admit,
    multipart: Result<Multipart, MultipartRejection>,
) -> Redirect {
    let back = |source: Option<&str>, prompt: &str, problem: FormProblem| {
        Redirect::to(&studio_path(&[
            ("mode", "edit"),
            ("error", problem.code()),
            ("source", source.unwrap_or_default()),
            ("prompt", prompt),
        ]))
    };
    if !caller.may(&state.auth, Via::Studio, Action::Generate).await {
        return back(None, "", FormProblem::SignIn);
    }
    let Ok(multipart) = multipart else {
        return back(None, "", FormProblem::Image);
    };
    let mut posted = match sources::Form::read(multipart, state.max_upload_bytes).await {
        Ok(posted) => posted,
        Err(_) => return back(None, "", FormProblem::Image),
    };
    let prompt = posted.text("prompt").unwrap_or_default().to_owned();
    // A browser sends an empty part for a file input left empty.
    let file = posted
        .take_files(&["image"])
        .into_iter()
        .find(|f| !f.bytes.is_empty());
    let source = match (file, posted.text("source").filter(|s| !s.is_empty())) {
        (Some(file), _) => Source::Bytes {
            bytes: file.bytes,
            name: file.name,
        },
        (None, Some(id)) => Source::Id(id.to_owned()),
        (None, None) => return back(None, &prompt, FormProblem::Image),
    };
    let by_id = matches!(source, Source::Id(_));
    let source = match state
        .engine
        .source("image", source, admission.as_ref())
        .await
    {
        Ok(record) => record,
        // An id that names nothing is the form's image field, whatever the engine calls it.
        Err(_) if by_id => return back(None, &prompt, FormProblem::Image),
        Err(err) => return back(None, &prompt, studio::Problem::of(&err).code),
    };
    let strength = match posted
        .text("strength")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        // A whole number; the intake says whether it is in range.
        Some(value) => match value.parse::<u8>() {
            Ok(percent) => Some(percent),
            Err(_) => return back(Some(&source.id), &prompt, FormProblem::Number),
        },
    };
    let form = GenerateForm {
        prompt: prompt.clone(),
        model: posted.text("model").unwrap_or_default().to_owned(),
        width: source.width,
        height: source.height,
        steps: None,
        seed: None,
        negative_prompt: None,
        translate: true,
        source: Some(source.id.clone()),
        mask: None,
        strength,
    };
    let (plan, _) = match studio::plan(&state, form, admission.as_ref()).await {
        Ok(plan) => plan,
        Err(problem) => return back(Some(&source.id), &prompt, problem.code),
    };
    match state.engine.generate(plan, admission).await {
        Ok(generated) => Redirect::to(&gallery_path(&generated.record.id)),
        Err(err) => {
            tracing::info!(error = %err, "the studio's edit form post did not make an image");
            back(Some(&source.id), &prompt, studio::Problem::of(&err).code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path("/gallery/abc"), "/gallery/abc");
        assert_eq!(local_path("https://evil.example/"), "/");
        assert_eq!(local_path("//evil.example/"), "/");
        assert_eq!(local_path("/\\evil.example"), "/");
        assert_eq!(local_path(""), "/");
        // Browsers strip these before reading the URL, leaving `//evil.example`.
        for sneaky in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/ /evil.example",
        ] {
            assert_eq!(local_path(sneaky), "/", "{sneaky:?}");
        }
        assert_eq!(local_path("/\u{7f}/evil.example"), "/");
        assert_eq!(
            local_path("/gallery?search=a%20fox"),
            "/gallery?search=a%20fox"
        );
    }

    #[test]
    fn posted_fields_are_checked_and_named() {
        let posted = Generate {
            prompt: "a fox".into(),
            width: "640".into(),
            height: "wide".into(),
            ..Default::default()
        };
        assert_eq!(posted.to_form(), Err(FormProblem::Number));

        let posted = Generate {
            prompt: "a fox".into(),
            width: "640".into(),
            height: "480".into(),
            seed: "7".into(),
            translate: Some("on".into()),
            ..Default::default()
        };
        let form = posted.to_form().unwrap();
        assert_eq!((form.width, form.height, form.steps), (640, 480, None));
        assert_eq!(form.seed, None, "a seed counts only when fixed");
        assert!(form.translate);
    }

    #[test]
    fn going_back_keeps_what_was_typed() {
        let posted = Generate {
            prompt: "un zorro & un búho".into(),
            width: "640".into(),
            height: "480".into(),
            ..Default::default()
        };
        let location = posted.back_with(FormProblem::Size).into_response();
        let location = location.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(
            location,
            "/?prompt=un%20zorro%20%26%20un%20b%C3%BAho&width=640&height=480&translate=0&error=size"
        );
    }
}
