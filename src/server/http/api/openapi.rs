//! `GET /api/openapi.json`: the OpenAPI 3 document, generated from the handlers' types.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{image, images, models, openai, types, uploads};

#[derive(OpenApi)]
#[openapi(
    info(title = "Pixzoo", description = "Self-hosted AI image studio and image origin."),
    paths(image::create, uploads::create, models::list, images::list, images::get, images::delete, openai::generations, openai::edits, openai::variations, document),
    components(schemas(
        types::Message,
        types::ImageRequest,
        types::ImageResponse,
        types::ModelList,
        types::ModelInfo,
        types::SizesInfo,
        types::SizeEntryInfo,
        types::StepsInfo,
        types::ImagePage,
        crate::server::image_info::ImageInfo,
        crate::domain::kind::ImageKind,
        types::ErrorBody,
        openai::GenerationRequest,
        openai::GenerationResponse,
        openai::GenerationData,
        openai::EditForm,
        openai::OpenAiErrorBody,
        openai::OpenAiErrorDetail,
    )),
    modifiers(&BearerKey)
)]
pub struct ApiDoc;

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3 document of this API", content_type = "application/json")),
)]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
