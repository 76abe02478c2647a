//! Where an image came from: made from a prompt, uploaded, or edited from another image. Stored with
//! every image, filtered on in the gallery and the API.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ImageKind {
    /// Made by a model from a prompt.
    Generated,
    /// An image Pixzoo did not make, stored as it was sent (oriented, without its metadata).
    Upload,
    /// Made by a model from a prompt and a source image (image-to-image, inpainting, variations).
    Edit,
}

impl ImageKind {
    pub const ALL: [ImageKind; 3] = [ImageKind::Generated, ImageKind::Upload, ImageKind::Edit];

    pub fn as_str(self) -> &'static str {
        match self {
            ImageKind::Generated => "generated",
            ImageKind::Upload => "upload",
            ImageKind::Edit => "edit",
        }
    }

    /// What the gallery's filter calls images of this kind.
    pub fn label(self) -> &'static str {
        match self {
            ImageKind::Generated => "Generated",
            ImageKind::Upload => "Uploaded",
            ImageKind::Edit => "Edited",
        }
    }
}

impl std::str::FromStr for ImageKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| format!("kind `{s}` must be one of generated, upload, edit"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in ImageKind::ALL {
            assert_eq!(kind.as_str().parse::<ImageKind>(), Ok(kind));
        }
        assert!("uploaded"
            .parse::<ImageKind>()
            .unwrap_err()
            .contains("upload"));
    }
}
