//! CLIP's tokenizer from a model's `tokenizer/` (`vocab.json`, `merges.txt`, `special_tokens_map.json`),
//! built with the `tokenizers` crate exactly as transformers converts `CLIPTokenizer` to its fast
//! form: NFC, whitespace runs to one space, lower case, CLIP's word pattern, byte-level BPE with `</w>`
//! ending each word.

use std::path::Path;

use serde::Deserialize;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::replace::ReplacePattern;
use tokenizers::normalizers::{Lowercase, Replace, Sequence as Normalizers, NFC};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizers;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use super::layout::{read_json, Layout};
use super::{DiffusionError, Result};

/// CLIP's word pattern (transformers' `CLIPConverter`).
const WORDS: &str = r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

/// Token ids for one prompt, padded to the encoder's length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub ids: Vec<u32>,
    /// How many of the prompt's tokens did not fit and were dropped.
    pub dropped: usize,
}

#[derive(Debug)]
pub struct ClipTokenizer {
    tokenizer: Tokenizer,
    bos: u32,
    eos: u32,
    pad: u32,
    /// Ids per prompt, the start and end tokens included (77 for every SD model).
    pub max_length: usize,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Special {
    Text(String),
    Added { content: String },
}

impl Special {
    fn text(&self) -> &str {
        match self {
            Special::Text(t) | Special::Added { content: t } => t,
        }
    }
}

#[derive(Deserialize, Default)]
struct SpecialTokens {
    bos_token: Option<Special>,
    eos_token: Option<Special>,
    pad_token: Option<Special>,
}

#[derive(Deserialize, Default)]
struct TokenizerConfig {
    model_max_length: Option<f64>,
}

impl ClipTokenizer {
    pub fn load(layout: &Layout) -> Result<Self> {
        Self::from_dir(&layout.part("tokenizer"))
    }

    pub fn from_dir(dir: &Path) -> Result<Self> {
        let error = |message: String| DiffusionError::Tokenizer {
            path: dir.to_path_buf(),
            message,
        };
        let vocab = dir.join("vocab.json");
        let merges = dir.join("merges.txt");
        let bpe = BPE::builder()
            .files(
                vocab.to_string_lossy().into_owned(),
                merges.to_string_lossy().into_owned(),
            )
            .end_of_word_suffix("</w>".into())
            .unk_token("<|endoftext|>".into())
            .build()
            .map_err(|e| error(format!("vocab.json / merges.txt: {e}")))?;
        let mut tokenizer = Tokenizer::new(bpe);
        let whitespace = Replace::new(ReplacePattern::Regex(r"\s+".into()), " ")
            .map_err(|e| error(e.to_string()))?;
        tokenizer
            .with_normalizer(Some(Normalizers::new(vec![
                NFC.into(),
                whitespace.into(),
                Lowercase.into(),
            ])))
            .map_err(|e| error(e.to_string()))?;
        let words = Split::new(
            SplitPattern::Regex(WORDS.into()),
            SplitDelimiterBehavior::Removed,
            true,
        )
        .map_err(|e| error(e.to_string()))?;
        tokenizer.with_pre_tokenizer(Some(PreTokenizers::new(vec![
            words.into(),
            ByteLevel::new(false, true, true).into(),
        ])));

        let special: SpecialTokens = optional_json(&dir.join("special_tokens_map.json"))?;
        let config: TokenizerConfig = optional_json(&dir.join("tokenizer_config.json"))?;
        let bos = special
            .bos_token
            .as_ref()
            .map_or("<|startoftext|>", Special::text);
        let eos = special
            .eos_token
            .as_ref()
            .map_or("<|endoftext|>", Special::text);
        let pad = special.pad_token.as_ref().map_or(eos, Special::text);
        // Written in a prompt, the special tokens are those tokens, not their characters, as in
        // transformers (which is why SD 2.x's pad token `!` reads as the pad wherever it is written).
        tokenizer
            .add_special_tokens(
                [bos, eos, pad].map(|token| AddedToken::from(token.to_string(), true)),
            )
            .map_err(|e| error(e.to_string()))?;
        let id = |text: &str| -> Result<u32> {
            tokenizer
                .token_to_id(text)
                .ok_or_else(|| error(format!("the vocabulary has no `{text}` token")))
        };
        let (bos, eos, pad) = (id(bos)?, id(eos)?, id(pad)?);
        // transformers writes a huge sentinel when a tokenizer has no limit; CLIP's is 77.
        let max_length = config
            .model_max_length
            .filter(|n| (2.0..=4096.0).contains(n))
            .map_or(77, |n| n as usize);
        Ok(ClipTokenizer {
            tokenizer,
            bos,
            eos,
            pad,
            max_length,
        })
    }

    /// The start token, as many of the prompt's tokens as fit, the end token, then padding, as
    /// diffusers' pipelines tokenize (`padding="max_length"`, `truncation=True`).
    pub fn encode(&self, text: &str) -> Result<Tokens> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| DiffusionError::Input(format!("cannot tokenize the prompt: {e}")))?;
        let words = encoding.get_ids();
        let room = self.max_length - 2;
        let kept = words.len().min(room);
        let mut ids = Vec::with_capacity(self.max_length);
        ids.push(self.bos);
        ids.extend_from_slice(&words[..kept]);
        ids.push(self.eos);
        ids.resize(self.max_length, self.pad);
        Ok(Tokens {
            ids,
            dropped: words.len() - kept,
        })
    }
}

fn optional_json<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T> {
    if path.is_file() {
        read_json(path)
    } else {
        Ok(T::default())
    }
}
