//! What every catalog backend must do, written against the storage traits only. A backend's tests invoke
//! [`conformance_tests!`] with how to open a fresh, empty catalog: one test per check, named after it.

use crate::domain::format::ImageFormat;
use crate::domain::kind::ImageKind;
use crate::domain::translation::Translation;
use crate::server::storage::blobs::derivative_key;
use crate::server::storage::{
    cursor_after, parse_cursor, CachedPrompt, Catalog, DerivativeRecord, ImageRecord, Orphan,
    PageQuery,
};

/// A record with every field set, so a backend that drops or mangles one is caught.
pub fn record(id: &str, gen_key: &str, created_at: i64) -> ImageRecord {
    ImageRecord {
        id: id.into(),
        gen_key: gen_key.into(),
        prompt: "a sloth".into(),
        final_prompt: "a sloth".into(),
        negative_prompt: None,
        model: "builtin".into(),
        provider: "builtin".into(),
        seed: u32::MAX,
        steps: Some(4),
        width: 800,
        height: 600,
        format: ImageFormat::Png,
        bytes: 1234,
        content_hash: "ab".repeat(32),
        created_at,
        translation: Translation::Fallback,
        translation_note: Some("the LLM was down".into()),
        kind: ImageKind::Edit,
        source_id: Some("source".into()),
        mask_id: Some("mask".into()),
        strength: Some(100),
    }
}

/// One `#[tokio::test]` per check, named after it, each on its own catalog: `$open` (evaluated once per
/// test) is a future of `(catalog, keep)`, a fresh, empty catalog and whatever must outlive it (a
/// temporary directory; `()` if nothing). Invoke it in a module of its own, once per way of opening.
macro_rules! conformance_tests {
    ($open:expr) => {
        $crate::server::storage::conformance::conformance_tests!(@each $open;
            insert_read_back_and_first_wins,
            replace_retires_the_old_key,
            pages_are_newest_first_filtered_and_keyset,
            search_finds_substrings_in_any_script,
            search_pages_are_whole_and_in_order,
            kinds_filter_and_edits_know_their_source,
            derivatives_follow_their_image,
            delete_returns_what_no_one_else_needs,
            eviction_takes_the_least_recently_served,
            prompt_cache_keeps_the_first_answer,
            prompt_cache_lists_every_answer_in_pages,
            usage_counts_a_provider_since_a_time,
            sessions_expire_and_end,
        );
    };
    (@each $open:expr; $($check:ident,)*) => {
        $(
            #[tokio::test]
            async fn $check() {
                use $crate::server::storage::Catalog as _;
                let (catalog, _keep) = $open.await;
                catalog.ping().await.unwrap();
                $crate::server::storage::conformance::$check(&catalog).await;
                catalog.close().await;
            }
        )*
    };
}
pub(crate) use conformance_tests;

async fn ids(catalog: &dyn Catalog, query: PageQuery<'_>) -> Vec<String> {
    catalog
        .page(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

pub(crate) async fn insert_read_back_and_first_wins(catalog: &dyn Catalog) {
    let first = record("01", "key-a", 10);
    assert_eq!(catalog.insert(&first).await.unwrap(), first);
    let rival = record("02", "key-a", 11);
    assert_eq!(
        catalog.insert(&rival).await.unwrap(),
        first,
        "the first row for a key wins"
    );
    let mut second = record("03", "key-b", 20);
    second.negative_prompt = Some("blurry".into());
    second.steps = None;
    second.format = ImageFormat::Webp;
    second.translation = Translation::Llm;
    second.translation_note = None;
    catalog.insert(&second).await.unwrap();

    assert_eq!(catalog.by_id("03").await.unwrap(), Some(second.clone()));
    assert_eq!(
        catalog.by_gen_key("key-a").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(catalog.by_id("02").await.unwrap(), None);
    assert_eq!(catalog.by_id("nope").await.unwrap(), None);
    assert_eq!(catalog.by_gen_key("nope").await.unwrap(), None);
    let newest = PageQuery {
        limit: 10,
        ..PageQuery::default()
    };
    assert_eq!(ids(catalog, newest).await, ["03", "01"]);
}

pub(crate) async fn replace_retires_the_old_key(catalog: &dyn Catalog) {
    let old = record("10", "key-redo", 30);
    catalog.insert(&old).await.unwrap();
    let new = record("11", "key-redo", 31);
    assert_eq!(catalog.replace(&new).await.unwrap(), new);
    assert_eq!(catalog.by_gen_key("key-redo").await.unwrap(), Some(new));
    let kept = catalog
        .by_id("10")
        .await
        .unwrap()
        .expect("the old image keeps its id");
    assert_ne!(kept.gen_key, "key-redo");
}

pub(crate) async fn pages_are_newest_first_filtered_and_keyset(catalog: &dyn Catalog) {
    for (id, created_at, prompt, model) in [
        ("p1", 100, "100% red fox", "fox-model"),
        ("p2", 101, "red_fox at dusk", "fox-model"),
        ("p3", 101, "a red fox", "other"),
        ("p4", 102, "blue whale", "fox-model"),
    ] {
        let mut r = record(id, &format!("key-{id}"), created_at);
        r.prompt = prompt.into();
        r.final_prompt = format!("final {prompt}");
        r.model = model.into();
        catalog.insert(&r).await.unwrap();
    }
    let fox = |after, limit| PageQuery {
        limit,
        after,
        search: Some("fox"),
        model: None,
        kind: None,
    };
    // Equal times order by id, descending.
    assert_eq!(ids(catalog, fox(None, 10)).await, ["p3", "p2", "p1"]);
    let first_page = catalog.page(&fox(None, 2)).await.unwrap();
    let cursor = cursor_after(first_page.last().unwrap());
    let (t, id) = parse_cursor(&cursor).unwrap();
    assert_eq!(ids(catalog, fox(Some((t, &id)), 10)).await, ["p1"]);
    // Wildcards in a search are literal.
    let literal = |search| PageQuery {
        limit: 10,
        search: Some(search),
        ..PageQuery::default()
    };
    assert_eq!(ids(catalog, literal("100%")).await, ["p1"]);
    assert_eq!(ids(catalog, literal("red_fox")).await, ["p2"]);
    assert_eq!(
        ids(catalog, literal("final blue")).await,
        ["p4"],
        "the final prompt counts"
    );
    let model = PageQuery {
        limit: 10,
        search: Some("red"),
        model: Some("other"),
        ..PageQuery::default()
    };
    assert_eq!(ids(catalog, model).await, ["p3"]);
    assert_eq!(parse_cursor("nonsense"), None);
    assert_eq!(parse_cursor("12.a-b"), None);
}

pub(crate) async fn kinds_filter_and_edits_know_their_source(catalog: &dyn Catalog) {
    let with = |id: &str, kind, source: Option<&str>, at| {
        let mut r = record(id, &format!("kind-{id}"), at);
        r.prompt = format!("kindly {id}");
        r.kind = kind;
        r.source_id = source.map(Into::into);
        r.mask_id = None;
        r.strength = source.map(|_| 35);
        r
    };
    for r in [
        with("k1", ImageKind::Upload, None, 500),
        with("k2", ImageKind::Generated, None, 501),
        with("k3", ImageKind::Edit, Some("k1"), 502),
        with("k4", ImageKind::Edit, Some("k1"), 503),
        with("k5", ImageKind::Edit, Some("k2"), 504),
    ] {
        catalog.insert(&r).await.unwrap();
    }
    let k3 = catalog.by_id("k3").await.unwrap().unwrap();
    assert_eq!(
        (k3.kind, k3.source_id.as_deref(), k3.mask_id, k3.strength),
        (ImageKind::Edit, Some("k1"), None, Some(35))
    );
    let of_kind = |kind| PageQuery {
        limit: 10,
        search: Some("kindly"),
        kind: Some(kind),
        ..PageQuery::default()
    };
    assert_eq!(ids(catalog, of_kind(ImageKind::Upload)).await, ["k1"]);
    assert_eq!(ids(catalog, of_kind(ImageKind::Generated)).await, ["k2"]);
    assert_eq!(
        ids(catalog, of_kind(ImageKind::Edit)).await,
        ["k5", "k4", "k3"]
    );
    let edits = |source: &'static str, limit| async move {
        catalog
            .edits_of(source, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(edits("k1", 10).await, ["k4", "k3"]);
    assert_eq!(edits("k1", 1).await, ["k4"]);
    assert!(edits("k5", 10).await.is_empty());
}

pub(crate) async fn search_finds_substrings_in_any_script(catalog: &dyn Catalog) {
    for (id, created_at, prompt) in [
        ("q1", 300, "海边的日落，油画风格"),
        ("q2", 301, "A Sunset over the SEA"),
        ("q3", 302, "say \"cheese\" to the ox"),
        ("q4", 303, "猫在屋顶上睡觉"),
    ] {
        let mut r = record(id, &format!("key-{id}"), created_at);
        r.prompt = prompt.into();
        r.final_prompt = String::new();
        catalog.insert(&r).await.unwrap();
    }
    let found = |search| async move {
        ids(
            catalog,
            PageQuery {
                limit: 10,
                search: Some(search),
                ..PageQuery::default()
            },
        )
        .await
    };
    assert_eq!(found("的日落").await, ["q1"], "a Chinese substring");
    assert_eq!(found("日落").await, ["q1"], "two characters");
    assert_eq!(found("屋顶上").await, ["q4"]);
    assert_eq!(found("sunset OVER").await, ["q2"], "any case");
    assert_eq!(found("\"cheese\"").await, ["q3"], "quotes are literal");
    assert_eq!(found("\"c").await, ["q3"], "two characters, by a scan");
    assert!(found("sunrise").await.is_empty());
    assert!(found("日出").await.is_empty());
    catalog.delete("q1").await.unwrap();
    assert!(
        found("的日落").await.is_empty(),
        "deleted images are not found"
    );
}

/// Backends may find a page in steps (`storage::search`); whatever the steps, a page is the newest
/// matches in order, and keyset pages cover every match once.
pub(crate) async fn search_pages_are_whole_and_in_order(catalog: &dyn Catalog) {
    let mut expected = Vec::new();
    for i in 0..12 {
        let id = format!("w{i:02}");
        let mut r = record(&id, &format!("key-{id}"), 1000 + i);
        r.prompt = if i % 3 == 0 {
            expected.insert(0, id.clone());
            format!("a walrus number {i}")
        } else {
            format!("a seal number {i}")
        };
        r.model = if i % 2 == 0 { "even" } else { "odd" }.into();
        catalog.insert(&r).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut after: Option<(i64, String)> = None;
    loop {
        let page = catalog
            .page(&PageQuery {
                limit: 2,
                after: after.as_ref().map(|(t, id)| (*t, id.as_str())),
                search: Some("walrus"),
                model: None,
                kind: None,
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.created_at, last.id.clone()));
        seen.extend(page.into_iter().map(|r| r.id));
    }
    assert_eq!(seen, expected);
    let even = PageQuery {
        limit: 10,
        search: Some("walrus"),
        model: Some("even"),
        ..PageQuery::default()
    };
    assert_eq!(ids(catalog, even).await, ["w06", "w00"]);
}

pub(crate) async fn derivatives_follow_their_image(catalog: &dyn Catalog) {
    catalog.insert(&record("d1", "key-d1", 200)).await.unwrap();
    let derivative = DerivativeRecord {
        key: "dk1".into(),
        image_id: "d1".into(),
        format: ImageFormat::Avif,
        width: 40,
        height: 30,
        bytes: 99,
        content_hash: Some("ab".repeat(32)),
    };
    assert_eq!(catalog.derivative("dk1").await.unwrap(), None);
    catalog
        .insert_derivative(&derivative, "width=40")
        .await
        .unwrap();
    catalog
        .insert_derivative(&derivative, "width=40")
        .await
        .expect("recording the same derivative twice is not an error");
    assert_eq!(
        catalog.derivative("dk1").await.unwrap(),
        Some(derivative.clone())
    );
    // Made again (its blob was torn): the new length and hash are what reads are checked against.
    let remade = DerivativeRecord {
        bytes: 98,
        content_hash: Some("ef".repeat(32)),
        ..derivative
    };
    catalog
        .insert_derivative(&remade, "width=40")
        .await
        .unwrap();
    assert_eq!(
        catalog.derivative("dk1").await.unwrap(),
        Some(remade.clone())
    );
    assert_eq!(
        catalog.derivatives_of("d1").await.unwrap(),
        vec![(remade, "width=40".to_owned())]
    );
    assert!(catalog
        .derivatives_of("no-such-image")
        .await
        .unwrap()
        .is_empty());
    let orphan = DerivativeRecord {
        key: "dk-orphan".into(),
        image_id: "no-such-image".into(),
        format: ImageFormat::Png,
        width: 1,
        height: 1,
        bytes: 1,
        content_hash: None,
    };
    assert!(
        catalog.insert_derivative(&orphan, "width=1").await.is_err(),
        "a derivative of an image that is gone is refused"
    );
}

pub(crate) async fn delete_returns_what_no_one_else_needs(catalog: &dyn Catalog) {
    let mut shared_a = record("s1", "key-s1", 300);
    shared_a.content_hash = "cd".repeat(32);
    let mut shared_b = record("s2", "key-s2", 301);
    shared_b.content_hash = "cd".repeat(32);
    catalog.insert(&shared_a).await.unwrap();
    catalog.insert(&shared_b).await.unwrap();
    let derivative = DerivativeRecord {
        key: "dk-s2".into(),
        image_id: "s2".into(),
        format: ImageFormat::Webp,
        width: 10,
        height: 10,
        bytes: 10,
        content_hash: None,
    };
    catalog
        .insert_derivative(&derivative, "width=10")
        .await
        .unwrap();

    assert_eq!(
        catalog.delete("s1").await.unwrap(),
        Some(vec![]),
        "another image still needs the blob"
    );
    assert_eq!(catalog.by_id("s1").await.unwrap(), None);
    assert!(catalog.content_in_use(&"cd".repeat(32)).await.unwrap());
    let orphans = catalog.delete("s2").await.unwrap().unwrap();
    assert_eq!(
        orphans.iter().map(Orphan::blob_key).collect::<Vec<_>>(),
        [
            shared_b.blob_key(),
            derivative_key("dk-s2", ImageFormat::Webp)
        ]
    );
    assert!(!catalog.content_in_use(&"cd".repeat(32)).await.unwrap());
    assert_eq!(catalog.derivative("dk-s2").await.unwrap(), None);
    assert_eq!(catalog.delete("s2").await.unwrap(), None);
}

pub(crate) async fn eviction_takes_the_least_recently_served(catalog: &dyn Catalog) {
    catalog.insert(&record("e1", "key-e1", 400)).await.unwrap();
    let before = catalog.derivative_bytes().await.unwrap();
    for key in ["ev-a", "ev-b", "ev-c"] {
        let derivative = DerivativeRecord {
            key: key.into(),
            image_id: "e1".into(),
            format: ImageFormat::Webp,
            width: 10,
            height: 10,
            bytes: 100,
            content_hash: None,
        };
        catalog
            .insert_derivative(&derivative, "width=10")
            .await
            .unwrap();
    }
    assert_eq!(catalog.derivative_bytes().await.unwrap(), before + 300);
    let later = crate::server::clock::now_millis() + 60_000;
    catalog
        .touch_derivatives(&["ev-b".to_owned()], later)
        .await
        .unwrap();
    let evicted = catalog.evict_derivatives(before + 150).await.unwrap();
    let mut keys: Vec<String> = evicted
        .iter()
        .map(|orphan| match orphan {
            Orphan::Derivative { key, .. } => key.clone(),
            other => panic!("only derivatives are evicted: {other:?}"),
        })
        .filter(|key| key.starts_with("ev-"))
        .collect();
    keys.sort();
    // Older derivatives of the suite go first, then ev-a; ev-b was served last.
    assert!(keys.contains(&"ev-a".to_owned()), "{keys:?}");
    assert!(
        !keys.contains(&"ev-b".to_owned()),
        "the one served lately stays: {keys:?}"
    );
    assert!(catalog.derivative("ev-b").await.unwrap().is_some());
    assert!(catalog.derivative_bytes().await.unwrap() <= before + 150);
    assert!(
        catalog.by_id("e1").await.unwrap().is_some(),
        "originals stay"
    );
}

pub(crate) async fn prompt_cache_lists_every_answer_in_pages(catalog: &dyn Catalog) {
    for prompt in ["b", "a", "c"] {
        catalog
            .cache_prompt("listing", "flux", prompt, &format!("final {prompt}"))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after: Option<CachedPrompt> = None;
    loop {
        let page = catalog.cached_prompts(after.as_ref(), 2).await.unwrap();
        let Some(last) = page.last().cloned() else {
            break;
        };
        assert!(page.len() <= 2);
        seen.extend(page.into_iter().filter(|p| p.pipeline == "listing"));
        after = Some(last);
    }
    let prompts: Vec<_> = seen
        .iter()
        .map(|p| (p.prompt.as_str(), p.final_prompt.as_str()))
        .collect();
    assert_eq!(
        prompts,
        [("a", "final a"), ("b", "final b"), ("c", "final c")]
    );
}

pub(crate) async fn prompt_cache_keeps_the_first_answer(catalog: &dyn Catalog) {
    assert_eq!(
        catalog.cached_prompt("openai", "flux", "猫").await.unwrap(),
        None
    );
    catalog
        .cache_prompt("openai", "flux", "猫", "A cat.")
        .await
        .unwrap();
    catalog
        .cache_prompt("openai", "flux", "猫", "A different cat.")
        .await
        .unwrap();
    assert_eq!(
        catalog
            .cached_prompt("openai", "flux", "猫")
            .await
            .unwrap()
            .as_deref(),
        Some("A cat.")
    );
    assert_eq!(
        catalog.cached_prompt("openai", "sd", "猫").await.unwrap(),
        None
    );
    assert_eq!(
        catalog
            .cached_prompt("cloudflare", "flux", "猫")
            .await
            .unwrap(),
        None
    );
}

pub(crate) async fn usage_counts_a_provider_since_a_time(catalog: &dyn Catalog) {
    for (id, created_at, provider) in [
        ("u1", 1_000, "usage-paid"),
        ("u2", 2_000, "usage-paid"),
        ("u3", 2_000, "usage-other"),
    ] {
        let mut r = record(id, &format!("key-{id}"), created_at);
        r.provider = provider.into();
        catalog.insert(&r).await.unwrap();
    }
    assert_eq!(catalog.count_since("usage-paid", 0).await.unwrap(), 2);
    assert_eq!(catalog.count_since("usage-paid", 2_000).await.unwrap(), 1);
    assert_eq!(catalog.count_since("usage-paid", 2_001).await.unwrap(), 0);
    assert_eq!(catalog.count_since("usage-none", 0).await.unwrap(), 0);
}

pub(crate) async fn sessions_expire_and_end(catalog: &dyn Catalog) {
    let now = crate::server::clock::now_millis();
    catalog.insert_session("live", now + 60_000).await.unwrap();
    catalog.insert_session("stale", now - 1).await.unwrap();
    assert!(catalog.session_valid("live").await.unwrap());
    assert!(!catalog.session_valid("stale").await.unwrap());
    assert!(!catalog.session_valid("never").await.unwrap());
    catalog.delete_session("live").await.unwrap();
    assert!(!catalog.session_valid("live").await.unwrap());
    catalog.delete_session("never").await.unwrap();
}
