//! The offline pipeline: detect the language (whatlang), clean the prompt up, expand it with a template
//! for the model family. It cannot translate, and says so.

use whatlang::{Lang, Script};

use super::outcome::PromptOutcome;
use crate::domain::translation::Translation;
use crate::server::config::ModelFamily;

pub fn run(prompt: &str, family: ModelFamily) -> PromptOutcome {
    let cleaned = clean(prompt);
    let note = non_english(&cleaned).map(|lang| {
        format!("the prompt looks like {lang}; no LLM is configured to translate it, so it is used as written")
    });
    let final_prompt = match family {
        ModelFamily::Placeholder => cleaned,
        ModelFamily::Flux | ModelFamily::Dalle => {
            let sentence = capitalise(cleaned.trim_end_matches(['.', '!', '?']));
            format!("{sentence}, highly detailed, with natural lighting and a clear, balanced composition.")
        }
        ModelFamily::Sd => {
            format!("{cleaned}, highly detailed, sharp focus, soft natural lighting, high quality")
        }
    };
    PromptOutcome {
        final_prompt,
        translation: Translation::Builtin,
        note,
    }
}

/// Collapses whitespace and strips wrapping quotes and trailing separators.
fn clean(prompt: &str) -> String {
    let joined = prompt.split_whitespace().collect::<Vec<_>>().join(" ");
    joined
        .trim_matches(|c: char| matches!(c, '"' | '\'' | '“' | '”' | ',' | ';'))
        .trim()
        .to_owned()
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The language's English name when the prompt is confidently not English. Short Latin-script prompts
/// are often misdetected, so those need a reliable detection; other scripts speak for themselves.
pub(crate) fn non_english(text: &str) -> Option<&'static str> {
    let info = whatlang::detect(text)?;
    if info.lang() == Lang::Eng {
        return None;
    }
    let confident = info.is_reliable() || info.script() != Script::Latin;
    confident.then(|| info.lang().eng_name())
}

/// ISO 639-1 code for a detected language, as m2m100 expects; `None` for English or unknown.
pub(crate) fn iso_639_1(text: &str) -> Option<&'static str> {
    let info = whatlang::detect(text)?;
    non_english(text)?;
    Some(match info.lang() {
        Lang::Cmn => "zh",
        Lang::Jpn => "ja",
        Lang::Kor => "ko",
        Lang::Deu => "de",
        Lang::Fra => "fr",
        Lang::Spa => "es",
        Lang::Por => "pt",
        Lang::Ita => "it",
        Lang::Nld => "nl",
        Lang::Rus => "ru",
        Lang::Ukr => "uk",
        Lang::Pol => "pl",
        Lang::Tur => "tr",
        Lang::Ara => "ar",
        Lang::Heb => "he",
        Lang::Hin => "hi",
        Lang::Vie => "vi",
        Lang::Tha => "th",
        Lang::Ind => "id",
        Lang::Swe => "sv",
        Lang::Dan => "da",
        Lang::Fin => "fi",
        Lang::Ell => "el",
        Lang::Ces => "cs",
        Lang::Hun => "hu",
        Lang::Ron => "ro",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_follow_the_family() {
        let flux = run("  a red   fox ", ModelFamily::Flux);
        assert_eq!(flux.translation, Translation::Builtin);
        assert!(
            flux.final_prompt.starts_with("A red fox, highly detailed"),
            "{}",
            flux.final_prompt
        );
        let sd = run("a red fox", ModelFamily::Sd);
        assert!(
            sd.final_prompt
                .starts_with("a red fox, highly detailed, sharp focus"),
            "{}",
            sd.final_prompt
        );
        assert_eq!(
            run("\"a red fox\"", ModelFamily::Placeholder).final_prompt,
            "a red fox"
        );
        assert_eq!(flux.note, None);
    }

    #[test]
    fn says_when_it_cannot_translate() {
        let outcome = run("戴着墨镜的树懒在海滩上晒太阳", ModelFamily::Flux);
        let note = outcome.note.expect("a note for a Chinese prompt");
        assert!(
            note.contains("Mandarin") && note.contains("no LLM"),
            "{note}"
        );
        assert_eq!(iso_639_1("戴着墨镜的树懒在海滩上晒太阳"), Some("zh"));
        assert_eq!(iso_639_1("a sloth wearing sunglasses on the beach"), None);
        assert_eq!(
            iso_639_1("Ein Faultier mit Sonnenbrille liegt am Strand in der Sonne"),
            Some("de")
        );
    }
}
