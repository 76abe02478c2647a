//! The environment variables read over the file: the seed projects' names (`REPLICATE_API_TOKEN`,
//! `CF_ACCOUNT_LIST`, `DATABASE_URL`…) and `PIXZOO_*`, each mapped to its key.

use figment::providers::{Env, Serialized};

use super::ConfigError;

/// The names users of the seed projects already know, read as plain strings (figment would parse a
/// JSON account list or an all-digit id as structured values).
pub(super) fn seed_env() -> Result<Serialized<serde_json::Value>, ConfigError> {
    const STRINGS: &[(&str, &str)] = &[
        ("REPLICATE_API_TOKEN", "providers.replicate.api_token"),
        ("REPLICATE_BASE_URL", "providers.replicate.base_url"),
        ("CLOUDFLARE_ACCOUNT_ID", "providers.cloudflare.account_id"),
        ("CLOUDFLARE_API_TOKEN", "providers.cloudflare.api_token"),
        ("CF_ACCOUNT_LIST", "providers.cloudflare.accounts"),
        ("CLOUDFLARE_BASE_URL", "providers.cloudflare.base_url"),
        ("OPENAI_API_KEY", "providers.openai.api_key"),
        ("OPENAI_BASE_URL", "providers.openai.base_url"),
        ("A1111_BASE_URL", "providers.a1111.base_url"),
        ("API_KEY", "auth.api_key"),
        ("DATABASE_URL", "storage.catalog_url"),
        ("PIXZOO_SIGNING_KEY", "security.signing_keys"),
        ("PIXZOO_METRICS_TOKEN", "security.metrics_token"),
        ("CLOUDFLARE_ZONE_ID", "purge.cloudflare.zone_id"),
        ("CLOUDFLARE_PURGE_TOKEN", "purge.cloudflare.api_token"),
        ("PIXZOO_PURGE_WEBHOOK_SECRET", "purge.webhook.secret"),
        ("CF_TRANSLATE_MODEL", "prompt.cloudflare.translate_model"),
        ("LLM_BASE_URL", "prompt.openai.base_url"),
        ("LLM_API_KEY", "prompt.openai.api_key"),
        ("LLM_MODEL", "prompt.openai.model"),
    ];
    let mut root = serde_json::Map::new();
    let mut set = |path: &str, value: serde_json::Value| {
        let mut node = &mut root;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                node.insert(part.to_owned(), value);
                return;
            }
            node = node
                .entry(part.to_owned())
                .or_insert_with(|| serde_json::Value::Object(Default::default()))
                .as_object_mut()
                .expect("only objects are inserted on the path");
        }
    };
    for (var, key) in STRINGS {
        // Empty is unset: a compose file's `OPENAI_BASE_URL=${OPENAI_BASE_URL}` with nothing behind it.
        if let Ok(value) = std::env::var(var).map(|v| v.trim().to_owned()) {
            if value.is_empty() {
                continue;
            }
            set(key, serde_json::Value::String(value));
        }
    }
    if let Ok(value) = std::env::var("CF_IS_TRANSLATE") {
        let flag = match value.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => {
                return Err(ConfigError::Invalid {
                    key: "prompt.cloudflare.translate".into(),
                    reason: format!("(CF_IS_TRANSLATE) `{value}` is not true or false"),
                })
            }
        };
        set("prompt.cloudflare.translate", serde_json::Value::Bool(flag));
    }
    Ok(Serialized::defaults(serde_json::Value::Object(root)))
}

/// `PIXZOO_SECTION__KEY` for any key, plus short names for the ones people set most.
pub(super) fn pixzoo_env() -> Env {
    // SIGNING_KEY, METRICS_TOKEN and PURGE_WEBHOOK_SECRET are read as plain strings by `seed_env`.
    Env::prefixed("PIXZOO_")
        .ignore(&[
            "CONFIG",
            "SIGNING_KEY",
            "METRICS_TOKEN",
            "PURGE_WEBHOOK_SECRET",
        ])
        .map(|key| match key.as_str().to_ascii_lowercase().as_str() {
            "addr" => "server.addr".into(),
            "site_root" => "server.site_root".into(),
            "log" => "server.log".into(),
            "metrics_addr" => "server.metrics_addr".into(),
            "data_dir" => "storage.data_dir".into(),
            "default_model" => "catalog.default_model".into(),
            other => other.replace("__", ".").into(),
        })
}

// figment's `Jail` closures return its large error type by design.
#[allow(clippy::result_large_err)]
#[cfg(test)]
mod tests {
    use std::path::Path;

    use figment::Jail;

    use crate::server::config::{Config, DEFAULT_CONFIG_FILE};

    fn load_err(explicit: Option<&Path>) -> String {
        Config::load(explicit).unwrap_err().to_string()
    }

    #[test]
    fn file_then_env_override() {
        Jail::expect_with(|jail| {
            jail.create_file(
                DEFAULT_CONFIG_FILE,
                r#"
                    [server]
                    addr = "0.0.0.0:8080"
                    [limits]
                    max_width = 2048
                "#,
            )?;
            let config = Config::load(None).expect("file loads");
            assert_eq!(config.server.addr.to_string(), "0.0.0.0:8080");
            assert_eq!(config.limits.max_width, 2048);
            assert_eq!(
                config.limits.max_height, 4096,
                "untouched keys keep defaults"
            );

            jail.set_env("PIXZOO_ADDR", "127.0.0.1:4010");
            jail.set_env("PIXZOO_DATA_DIR", "/tmp/elsewhere");
            jail.set_env("PIXZOO_LIMITS__MAX_HEIGHT", "512");
            jail.set_env("LEPTOS_SITE_ROOT", "site");
            let config = Config::load(None).expect("env loads");
            assert_eq!(config.server.addr.to_string(), "127.0.0.1:4010");
            jail.set_env("PIXZOO_ADDR", "localhost:4011");
            let config = Config::load(None).unwrap();
            assert!(
                config.server.addr.ip().is_loopback(),
                "{}",
                config.server.addr
            );
            assert_eq!(config.server.addr.port(), 4011);
            assert_eq!(config.storage.data_dir, Path::new("/tmp/elsewhere"));
            assert_eq!(config.limits.max_height, 512);
            assert_eq!(config.limits.max_width, 2048);
            assert_eq!(config.server.site_root, Path::new("site"));

            jail.set_env("PIXZOO_SITE_ROOT", "pixzoo-site");
            let config = Config::load(None).expect("env loads");
            assert_eq!(
                config.server.site_root,
                Path::new("pixzoo-site"),
                "PIXZOO_ wins"
            );
            Ok(())
        });
    }

    #[test]
    fn the_seed_projects_variable_names_work() {
        Jail::expect_with(|jail| {
            jail.set_env("REPLICATE_API_TOKEN", "r8_123");
            jail.set_env("CLOUDFLARE_ACCOUNT_ID", "0123456789");
            jail.set_env("CLOUDFLARE_API_TOKEN", "cf-token");
            jail.set_env("CF_ACCOUNT_LIST", r#"[{"account_id":"a","token":"t"}]"#);
            jail.set_env("OPENAI_BASE_URL", "http://127.0.0.1:8080");
            jail.set_env("A1111_BASE_URL", "http://127.0.0.1:7860");
            jail.set_env("CF_TRANSLATE_MODEL", "@cf/meta/m2m100-1.2b");
            jail.set_env("CF_IS_TRANSLATE", "false");
            jail.set_env("LLM_MODEL", "llama3.2");
            jail.set_env("PIXZOO_DEFAULT_MODEL", "DS-8-CF");
            jail.set_env("CLOUDFLARE_ZONE_ID", "023e105f4ecef8ad9ca31a8372d0c353");
            jail.set_env("CLOUDFLARE_PURGE_TOKEN", "cf-purge");
            jail.set_env("PIXZOO_PURGE_WEBHOOK_SECRET", "whsec");
            let config = Config::load(None).expect("loads");
            assert_eq!(config.purge.cloudflare.api_token.expose(), "cf-purge");
            assert!(config.purge.cloudflare.is_configured());
            assert_eq!(config.purge.webhook.secret.expose(), "whsec");
            assert_eq!(config.providers.replicate.api_token.expose(), "r8_123");
            assert_eq!(
                config.providers.cloudflare.account_id, "0123456789",
                "digits stay a string"
            );
            assert_eq!(
                config.providers.cloudflare.account_list().unwrap()[0].account_id,
                "a"
            );
            assert!(
                config.providers.openai.is_configured(),
                "a self-hosted server needs no key"
            );
            assert_eq!(config.providers.a1111.base_url, "http://127.0.0.1:7860");
            assert!(!config.prompt.cloudflare.translate);
            assert_eq!(config.prompt.openai.model, "llama3.2");
            assert_eq!(config.catalog.default_model, "DS-8-CF");

            jail.set_env("CF_ACCOUNT_LIST", "[{\"account_id\": oops");
            let message = load_err(None);
            assert!(
                message.contains("providers.cloudflare.accounts") && !message.contains("oops"),
                "{message}"
            );
            jail.set_env("CF_ACCOUNT_LIST", "");
            jail.set_env("CF_IS_TRANSLATE", "maybe");
            assert!(load_err(None).contains("CF_IS_TRANSLATE"));
            jail.set_env("CF_IS_TRANSLATE", "1");
            jail.set_env("REPLICATE_BASE_URL", "ftp://example.com");
            assert!(load_err(None).contains("providers.replicate.base_url"));
            Ok(())
        });
    }
}
