//! Images that requests send or name: a `data:` URI or an id in JSON, files in a multipart form, a
//! raw image body. Every face reads them here and hands the engine a [`Source`]; only ids and bytes
//! are taken, never a URL to fetch (the server would fetch whatever a stranger points it at).

use axum::extract::multipart::{Multipart, MultipartError};
use axum::http::StatusCode;
use base64::Engine as _;
use bytes::Bytes;

use crate::server::engine::Source;
use crate::server::error::ApiError;

/// `value` of the JSON field `field`: an image id, or a `data:image/…;base64,…` URI.
pub fn from_json(field: &str, value: &str) -> Result<Source, ApiError> {
    let value = value.trim();
    let Some(uri) = value.strip_prefix("data:") else {
        if value.contains("://") {
            return Err(ApiError::BadRequest(format!(
                "`{field}` must be an image id or a data: URI; URLs are not fetched (upload the image first: POST /api/uploads)"
            )));
        }
        return Ok(Source::Id(value.to_owned()));
    };
    let (meta, data) = uri.split_once(',').ok_or_else(|| {
        ApiError::BadRequest(format!(
            "`{field}`: a data: URI needs a comma before its data"
        ))
    })?;
    if !meta.ends_with(";base64") {
        return Err(ApiError::BadRequest(format!(
            "`{field}`: the data: URI must be base64 (data:image/png;base64,…)"
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| {
            ApiError::BadRequest(format!("`{field}`: the data: URI's base64 is broken: {e}"))
        })?;
    Ok(Source::Bytes {
        bytes: Bytes::from(bytes),
        name: None,
    })
}

/// A file of a multipart form.
#[derive(Debug)]
pub struct File {
    /// The form field it came in (`file`, `image`, `image[]`, `mask`).
    pub field: String,
    /// The name the client gave the file.
    pub name: Option<String>,
    pub bytes: Bytes,
}

impl File {
    pub fn into_source(self) -> Source {
        Source::Bytes {
            bytes: self.bytes,
            name: self.name,
        }
    }
}

/// A multipart form: its text fields and its files, in order.
#[derive(Debug, Default)]
pub struct Form {
    pub texts: Vec<(String, String)>,
    pub files: Vec<File>,
}

impl Form {
    /// Reads every part; a part with a file name (or a non-text type) is a file.
    pub async fn read(mut multipart: Multipart, max_upload_bytes: usize) -> Result<Self, ApiError> {
        let mut form = Form::default();
        let too_large = |err: MultipartError| -> ApiError {
            if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(format!(
                    "the upload is over the limit of {max_upload_bytes} bytes (limits.max_upload_bytes)"
                ))
            } else {
                ApiError::BadRequest(format!("the multipart form is broken: {}", err.body_text()))
            }
        };
        while let Some(field) = multipart.next_field().await.map_err(too_large)? {
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let is_file = file_name.is_some()
                || field
                    .content_type()
                    .is_some_and(|t| !t.starts_with("text/"));
            let bytes = field.bytes().await.map_err(too_large)?;
            if is_file {
                form.files.push(File {
                    field: name,
                    name: file_name,
                    bytes,
                });
            } else {
                let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                    ApiError::BadRequest(format!("the form field `{name}` is not UTF-8 text"))
                })?;
                form.texts.push((name, text));
            }
        }
        Ok(form)
    }

    /// The text of field `name`, if it was sent (the last one, if several were).
    pub fn text(&self, name: &str) -> Option<&str> {
        self.texts
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Takes the files sent as any of `names`.
    pub fn take_files(&mut self, names: &[&str]) -> Vec<File> {
        let (taken, kept) = std::mem::take(&mut self.files)
            .into_iter()
            .partition(|f| names.contains(&f.field.as_str()));
        self.files = kept;
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_data_uris() {
        assert!(matches!(from_json("image", " abc "), Ok(Source::Id(id)) if id == "abc"));
        let Source::Bytes { bytes, .. } =
            from_json("image", "data:image/png;base64,iVBORw==").unwrap()
        else {
            panic!("bytes")
        };
        assert_eq!(&bytes[..], b"\x89PNG");
        for (bad, says) in [
            ("data:image/png,raw", "must be base64"),
            ("data:image/png;base64", "comma"),
            ("data:image/png;base64,!!!", "base64 is broken"),
            ("https://example.com/cat.png", "URLs are not fetched"),
        ] {
            let err = from_json("mask", bad).err().unwrap().to_string();
            assert!(err.contains("`mask`") && err.contains(says), "{bad}: {err}");
        }
    }
}
