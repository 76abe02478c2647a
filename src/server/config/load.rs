//! Loading: embedded defaults, then `Leptos.toml` (or `--config PATH`), then the environment
//! (`env.rs`), merged by figment, then checked (`Config::validate`).

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;

use super::env::{pixzoo_env, seed_env};
use super::{Config, ConfigError};

/// The file read when no `--config` is given, if it exists in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "Leptos.toml";

impl Config {
    /// Loads the configuration: defaults, then the file (`explicit` must exist; otherwise `Leptos.toml` in
    /// the working directory if present), then `LEPTOS_SITE_ROOT`, then `PIXZOO_*` variables.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let file = match explicit {
            Some(path) if !path.is_file() => return Err(ConfigError::Missing(path.to_owned())),
            Some(path) => Some(path.to_owned()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
        };
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        let config: Config = figment
            .merge(
                Env::raw()
                    .only(&["LEPTOS_SITE_ROOT"])
                    .map(|_| "server.site_root".into()),
            )
            .merge(seed_env()?)
            .merge(pixzoo_env())
            .extract()
            .map_err(|err| {
                ConfigError::Load(err.into_iter().map(describe).collect::<Vec<_>>().join("; "))
            })?;
        config.validate()?;
        Ok(config)
    }
}

/// One figment error as `` `key` what (in where) ``, the key spelled as in `Leptos.toml` whatever case the
/// environment variable used.
fn describe(err: figment::Error) -> String {
    let mut message = String::new();
    if !err.path.is_empty() {
        message.push_str(&format!("`{}` ", err.path.join(".").to_ascii_lowercase()));
    }
    message.push_str(&err.kind.to_string());
    if let Some(metadata) = &err.metadata {
        message.push_str(&format!(" (in {}", metadata.name));
        if let Some(source) = &metadata.source {
            message.push_str(&format!(" {source}"));
        }
        message.push(')');
    }
    message
}

// figment's `Jail` closures return its large error type by design.
#[allow(clippy::result_large_err)]
#[cfg(test)]
mod tests {
    use super::*;
    use figment::Jail;

    fn load_err(explicit: Option<&Path>) -> String {
        Config::load(explicit).unwrap_err().to_string()
    }

    #[test]
    fn defaults_without_any_file() {
        Jail::expect_with(|_jail| {
            let config = Config::load(None).expect("defaults load");
            assert_eq!(config, Config::default());
            assert_eq!(config.server.addr.to_string(), "127.0.0.1:3000");
            assert_eq!(config.storage.catalog_path(), Path::new("data/pixzoo.db"));
            Ok(())
        });
    }

    #[test]
    fn the_documented_file_matches_the_defaults() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_CONFIG_FILE);
        Jail::expect_with(|_jail| {
            assert_eq!(
                Config::load(Some(&shipped)).expect("Leptos.toml loads"),
                Config::default()
            );
            Ok(())
        });
    }

    #[test]
    fn explicit_config_path() {
        Jail::expect_with(|jail| {
            jail.create_file("other.toml", "[limits]\nmax_slug_chars = 10\n")?;
            let config = Config::load(Some(Path::new("other.toml"))).expect("loads");
            assert_eq!(config.limits.max_slug_chars, 10);
            let message = load_err(Some(Path::new("missing.toml")));
            assert!(
                message.contains("missing.toml") && message.contains("does not exist"),
                "{message}"
            );
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_the_key() {
        Jail::expect_with(|jail| {
            jail.set_env("PIXZOO_ADDR", "not-an-address");
            let message = load_err(None);
            assert!(message.contains("server.addr"), "{message}");

            jail.set_env("PIXZOO_ADDR", "127.0.0.1:3000");
            jail.set_env("PIXZOO_LIMITS__MAX_WIDTH", "wide");
            let message = load_err(None);
            assert!(message.contains("limits.max_width"), "{message}");

            jail.set_env("PIXZOO_LIMITS__MAX_WIDTH", "0");
            let message = load_err(None);
            assert!(
                message.contains("limits.max_width") && message.contains("between"),
                "{message}"
            );

            jail.set_env("PIXZOO_LIMITS__MAX_WIDTH", "4096");
            jail.set_env("OPENAI_BASE_URL", "");
            jail.set_env("OPENAI_API_KEY", "sk-test");
            let config = Config::load(None).expect("an empty seed variable is unset");
            assert_eq!(config.providers.openai.base_url, "https://api.openai.com");
            jail.set_env("PIXZOO_PROVIDERS__OPENAI__BASE_URL", "");
            let message = load_err(None);
            assert!(
                message.contains("providers.openai.base_url") && message.contains("empty"),
                "{message}"
            );
            Ok(())
        });
    }

    #[test]
    fn bad_files_name_the_problem() {
        Jail::expect_with(|jail| {
            jail.create_file(DEFAULT_CONFIG_FILE, "[server]\nadr = \"127.0.0.1:1\"\n")?;
            let message = load_err(None);
            assert!(
                message.contains("adr"),
                "unknown keys are refused: {message}"
            );

            jail.create_file(DEFAULT_CONFIG_FILE, "[server\naddr = 1\n")?;
            let message = load_err(None);
            assert!(
                message.contains(DEFAULT_CONFIG_FILE),
                "syntax errors name the file: {message}"
            );

            jail.create_file(DEFAULT_CONFIG_FILE, "[catalog]\ndefault_model = \"nope\"\n")?;
            let message = load_err(None);
            assert!(
                message.contains("catalog.default_model") && message.contains("nope"),
                "{message}"
            );

            jail.create_file(DEFAULT_CONFIG_FILE, "[server]\nlog = \"pixzoo=loud\"\n")?;
            assert!(load_err(None).contains("server.log"));

            jail.create_file(
                DEFAULT_CONFIG_FILE,
                "[[catalog.models]]\nid = \"x\"\nlabel = \"X\"\nprovider = \"dalle\"\nupstream = \"x\"\nfamily = \"flux\"\nsizes = \"any\"\n",
            )?;
            let message = load_err(None);
            assert!(
                message.contains("catalog.models.provider") && message.contains("dalle"),
                "{message}"
            );
            Ok(())
        });
    }
}
