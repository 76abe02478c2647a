//! Every provider's response handling, end to end over loopback: a local server answers each provider
//! call with the fuzzer's status and body, and the provider must turn it into an image or a typed
//! error, never a panic. Input: byte 0 picks the provider, byte 1 the status, the rest is the body.
#![no_main]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use libfuzzer_sys::fuzz_target;

use pixzoo::server::config::Config;
use pixzoo::server::cpu::CpuPool;
use pixzoo::server::providers::{from_config, ProviderRequest, Providers};
use pixzoo::server::secret::Secret;

const PROVIDERS: [&str; 4] = ["replicate", "cloudflare", "openai", "a1111"];
const STATUSES: [u16; 10] = [200, 201, 400, 401, 402, 404, 422, 429, 500, 503];

struct Harness {
    runtime: tokio::runtime::Runtime,
    providers: Providers,
}

static ANSWER: Mutex<(u16, Vec<u8>)> = Mutex::new((200, Vec::new()));

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let base = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let app = axum::Router::new().fallback(|| async {
                let (status, body) = ANSWER.lock().unwrap().clone();
                let status = StatusCode::from_u16(status).unwrap();
                (status, [("content-type", "application/json")], body).into_response()
            });
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            base
        });
        let mut config = Config::default();
        let p = &mut config.providers;
        p.builtin.enabled = false;
        p.replicate.api_token = Secret::new("fuzz");
        p.replicate.base_url = base.clone();
        p.replicate.timeout_secs = 1;
        p.replicate.poll_interval_ms = 5;
        p.cloudflare.account_id = "fuzz".into();
        p.cloudflare.api_token = Secret::new("fuzz");
        p.cloudflare.base_url = base.clone();
        p.cloudflare.timeout_secs = 1;
        p.openai.api_key = Secret::new("fuzz");
        p.openai.base_url = base.clone();
        p.openai.timeout_secs = 1;
        p.a1111.base_url = base;
        p.a1111.timeout_secs = 1;
        Harness {
            runtime,
            providers: from_config(&config, &Arc::new(CpuPool::new(0, 0))).providers,
        }
    })
}

fuzz_target!(|input: &[u8]| {
    let [which, status, body @ ..] = input else {
        return;
    };
    let harness = harness();
    let name = PROVIDERS[usize::from(*which) % PROVIDERS.len()];
    *ANSWER.lock().unwrap() = (
        STATUSES[usize::from(*status) % STATUSES.len()],
        body.to_vec(),
    );
    let provider = harness.providers[name].clone();
    let request = ProviderRequest {
        upstream_model: if name == "cloudflare" {
            "@cf/black-forest-labs/flux-1-schnell".into()
        } else {
            "owner/model".into()
        },
        prompt: "fuzz".into(),
        negative_prompt: None,
        seed: Some(1),
        steps: Some(4),
        width: 64,
        height: 64,
        aspect_ratio: Some("1:1".into()),
        edit: None,
        on_step: Default::default(),
    };
    let _ = harness.runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), provider.generate(request)).await
    });
});
