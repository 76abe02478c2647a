//! Cache keys. A generation key names "this model, these inputs, this size": equal keys are the same
//! image, so a finished key is served from the store instead of generated again.

use sha2::{Digest, Sha256};

use crate::urls::placeholder::Size;

/// Bump when the meaning of a key changes, so old rows stop matching instead of being served wrongly.
const KEY_VERSION: &str = "pixzoo-gen-v1";

pub struct KeyParts<'a> {
    pub model: &'a str,
    pub prompt: &'a str,
    pub negative_prompt: Option<&'a str>,
    pub seed: u32,
    pub steps: Option<u32>,
    pub size: Size,
    /// What an edit starts from; `None` for an image from a prompt alone.
    pub edit: Option<EditKey<'a>>,
}

/// An edit's part of its key: its source's content (not its id, so the same picture uploaded twice is
/// one source), its mask's, and its strength.
#[derive(Debug, Clone, Copy)]
pub struct EditKey<'a> {
    pub source_hash: &'a str,
    pub mask_hash: Option<&'a str>,
    pub strength: u8,
}

pub fn generation_key(parts: &KeyParts) -> String {
    // Fields are length-prefixed so no choice of strings can make two different requests collide.
    let mut hasher = Sha256::new();
    let mut field = |value: &[u8]| {
        hasher.update((value.len() as u64).to_le_bytes());
        hasher.update(value);
    };
    field(KEY_VERSION.as_bytes());
    field(parts.model.as_bytes());
    field(parts.prompt.as_bytes());
    field(parts.negative_prompt.unwrap_or_default().as_bytes());
    field(if parts.negative_prompt.is_some() {
        b"n"
    } else {
        b"-"
    });
    field(&parts.seed.to_le_bytes());
    field(&parts.steps.map_or(-1, i64::from).to_le_bytes());
    field(&parts.size.width.to_le_bytes());
    field(&parts.size.height.to_le_bytes());
    // Only edits hash more, so every key made before edits existed still names its image.
    if let Some(edit) = parts.edit {
        field(b"edit");
        field(edit.source_hash.as_bytes());
        field(edit.mask_hash.unwrap_or_default().as_bytes());
        field(if edit.mask_hash.is_some() { b"m" } else { b"-" });
        field(&[edit.strength]);
    }
    hex::encode(hasher.finalize())
}

/// The seed used when a request gives none: derived from the prompt, so a URL always means one image.
pub fn seed_for(prompt: &str) -> u32 {
    let digest = Sha256::new()
        .chain_update(b"pixzoo-seed\0")
        .chain_update(prompt)
        .finalize();
    u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(prompt: &str) -> KeyParts<'_> {
        KeyParts {
            model: "builtin",
            prompt,
            negative_prompt: None,
            seed: 1,
            steps: None,
            size: Size {
                width: 800,
                height: 600,
            },
            edit: None,
        }
    }

    const EDIT: EditKey<'static> = EditKey {
        source_hash: "aa",
        mask_hash: None,
        strength: 50,
    };

    #[test]
    fn every_part_changes_the_key() {
        let base = generation_key(&parts("sloth"));
        assert_eq!(base, generation_key(&parts("sloth")));
        assert_ne!(base, generation_key(&parts("sloths")));
        let variants = [
            KeyParts {
                model: "other",
                ..parts("sloth")
            },
            KeyParts {
                negative_prompt: Some(""),
                ..parts("sloth")
            },
            KeyParts {
                seed: 2,
                ..parts("sloth")
            },
            KeyParts {
                steps: Some(4),
                ..parts("sloth")
            },
            KeyParts {
                size: Size {
                    width: 600,
                    height: 800,
                },
                ..parts("sloth")
            },
            KeyParts {
                edit: Some(EDIT),
                ..parts("sloth")
            },
            KeyParts {
                edit: Some(EditKey {
                    source_hash: "ab",
                    ..EDIT
                }),
                ..parts("sloth")
            },
            KeyParts {
                edit: Some(EditKey {
                    mask_hash: Some("cc"),
                    ..EDIT
                }),
                ..parts("sloth")
            },
            KeyParts {
                edit: Some(EditKey {
                    mask_hash: Some(""),
                    ..EDIT
                }),
                ..parts("sloth")
            },
            KeyParts {
                edit: Some(EditKey {
                    strength: 51,
                    ..EDIT
                }),
                ..parts("sloth")
            },
        ];
        let mut seen = std::collections::HashSet::new();
        for variant in &variants {
            assert!(seen.insert(generation_key(variant)), "two variants collide");
        }
        for variant in variants {
            assert_ne!(base, generation_key(&variant));
        }
    }

    #[test]
    fn keys_of_images_from_prompts_never_change() {
        // Stored images are found by these keys: changing how they are made would orphan them all.
        assert_eq!(
            generation_key(&parts("sloth")),
            "ddf1ef26eace86dfb181476350406f7680a12d11e620c7c09d36dc9a336dfab0"
        );
    }

    #[test]
    fn seeds_follow_the_prompt() {
        assert_eq!(seed_for("sunglasses sloth"), seed_for("sunglasses sloth"));
        assert_ne!(seed_for("sunglasses sloth"), seed_for("sunglasses slot"));
    }
}
