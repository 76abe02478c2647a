//! Uploads from the browser: a file (dropped, pasted or chosen) or the painted mask, sent as the body
//! of `POST /api/uploads` with the page's session cookie. Answers the stored image's id, or the
//! server's reason in its own words.

/// Uploads `blob` and answers the stored image's id.
#[cfg(feature = "hydrate")]
pub async fn upload(blob: &web_sys::Blob) -> Result<String, String> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let failed = |_| "The upload did not reach the server; try again.".to_owned();
    let window = web_sys::window().ok_or("no window")?;
    let headers = web_sys::Headers::new().map_err(failed)?;
    let kind = blob.type_();
    let kind = if kind.is_empty() {
        "application/octet-stream".to_owned()
    } else {
        kind
    };
    headers.set("content-type", &kind).map_err(failed)?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(blob);
    let response: web_sys::Response =
        JsFuture::from(window.fetch_with_str_and_init("/api/uploads", &init))
            .await
            .map_err(failed)?
            .dyn_into()
            .map_err(failed)?;
    let status = response.status();
    let body = match response.json() {
        Ok(promise) => JsFuture::from(promise).await.ok(),
        Err(_) => None,
    };
    let field = |name: &str| {
        body.as_ref()
            .and_then(|b| js_sys::Reflect::get(b, &name.into()).ok())
            .and_then(|v| v.as_string())
    };
    if response.ok() {
        field("id").ok_or_else(|| "The server's answer had no image id.".to_owned())
    } else {
        Err(field("error").unwrap_or_else(|| format!("The upload failed (HTTP {status}).")))
    }
}
