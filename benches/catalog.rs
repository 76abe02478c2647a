//! Both catalog backends filled with the same `BENCH_CATALOG_ROWS` images (default one million), then the
//! gallery's typical queries through the `Images` trait, as the server runs them: the median and the 95th
//! percentile of each, side by side. PostgreSQL is the one `scripts/with-services.sh` starts (`make
//! bench-catalog` runs this under it). Target: every query within 20 ms at one million images.
//!
//! Rows are loaded in bulk with plain SQL (through the trait, a million inserts would take most of an
//! hour); the queries are the backends' own code.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pixzoo::server::storage::postgres::PgCatalog;
use pixzoo::server::storage::sqlite::SqliteCatalog;
use pixzoo::server::storage::{testing, Catalog, PageQuery};
use rand::{Rng, SeedableRng};
use sqlx::{Connection, Executor};

const SUBJECTS: &[&str] = &[
    "red fox",
    "lighthouse",
    "sloth",
    "tabby cat",
    "astronaut",
    "sailboat",
    "mountain lake",
    "robot",
    "dragon",
    "owl",
    "bicycle",
    "castle",
    "jellyfish",
    "tiger",
    "hot air balloon",
    "city street",
    "forest path",
    "teapot",
    "violin",
    "waterfall",
    "penguin",
    "desert dunes",
    "train station",
    "koi pond",
    "library",
    "volcano",
    "hummingbird",
    "submarine",
    "windmill",
    "snow leopard",
    "bonsai tree",
    "samurai",
    "octopus",
    "farmhouse",
    "galaxy",
    "market stall",
    "ballerina",
    "vintage car",
    "coral reef",
    "wolf",
];
const DETAILS: &[&str] = &[
    "at dusk",
    "in the rain",
    "under a full moon",
    "at sunrise",
    "in fog",
    "in spring",
    "covered in snow",
    "on a summer afternoon",
    "at night with neon lights",
    "in golden hour",
];
const STYLES: &[&str] = &[
    "oil painting",
    "watercolor",
    "35mm photo",
    "pixel art",
    "studio lighting",
    "isometric render",
    "ink sketch",
    "cinematic",
    "low poly",
    "ukiyo-e print",
];
const CHINESE: &[&str] = &[
    "海边的日落，油画风格",
    "雪山下的小木屋",
    "猫在屋顶上睡觉",
    "竹林里的熊猫",
    "夜晚的城市霓虹灯",
    "秋天的枫叶",
    "古老的寺庙",
    "雨中的街道",
];
const MODELS: &[&str] = &["flux-schnell", "flux-dev", "sdxl", "dall-e-3", "builtin"];

/// One synthetic image: (prompt, final prompt, model).
fn image(rng: &mut impl Rng) -> (String, String, &'static str) {
    let model = MODELS[rng.random_range(0..MODELS.len())];
    if rng.random_range(0..20) == 0 {
        let prompt = CHINESE[rng.random_range(0..CHINESE.len())].to_owned();
        return (prompt.clone(), format!("{prompt}, detailed"), model);
    }
    let prompt = format!(
        "a {} {}, {}",
        SUBJECTS[rng.random_range(0..SUBJECTS.len())],
        DETAILS[rng.random_range(0..DETAILS.len())],
        STYLES[rng.random_range(0..STYLES.len())],
    );
    (
        prompt.clone(),
        format!("{prompt}, highly detailed, sharp focus"),
        model,
    )
}

/// The queries the gallery and the API make, by name.
fn queries() -> Vec<(&'static str, PageQuery<'static>)> {
    let page = |search, model| PageQuery {
        limit: 48,
        after: None,
        search,
        model,
        kind: None,
    };
    vec![
        ("newest page", page(None, None)),
        ("a model", page(None, Some("sdxl"))),
        ("one word", page(Some("lighthouse"), None)),
        ("three words", page(Some("fox at dusk"), None)),
        ("a miss", page(Some("zebra crossing"), None)),
        ("Chinese substring", page(Some("城市霓虹"), None)),
        (
            "a word and a model",
            page(Some("penguin"), Some("flux-dev")),
        ),
    ]
}

const COLUMNS: &str =
    "id, gen_key, prompt, final_prompt, negative_prompt, model, provider, seed, steps, \
    width, height, format, bytes, content_hash, created_at, translation";

/// One image's columns, for loading in bulk.
struct Row {
    id: String,
    key: String,
    prompt: String,
    final_prompt: String,
    model: &'static str,
    created_at: i64,
}

/// The rows, in batches.
fn batches(rows: usize) -> impl Iterator<Item = Vec<Row>> {
    const BATCH: usize = 10_000;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let start = 1_700_000_000_000_i64;
    (0..rows.div_ceil(BATCH)).map(move |b| {
        (b * BATCH..((b + 1) * BATCH).min(rows))
            .map(|i| {
                let (prompt, final_prompt, model) = image(&mut rng);
                Row {
                    id: format!("{i:032x}"),
                    key: format!("key-{i}"),
                    prompt,
                    final_prompt,
                    model,
                    created_at: start + i as i64 * 1000,
                }
            })
            .collect()
    })
}

async fn fill_sqlite(path: &std::path::Path, rows: usize) {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    conn.execute("PRAGMA synchronous = OFF").await.unwrap();
    for batch in batches(rows) {
        let mut tx = conn.begin().await.unwrap();
        for row in batch {
            sqlx::query(&format!(
                "INSERT INTO images ({COLUMNS}) VALUES (?, ?, ?, ?, NULL, ?, 'bench', 1, NULL, 1024, 1024, 'png', 1000, ?, ?, 'off')"
            ))
            .bind(row.id)
            .bind(row.key)
            .bind(row.prompt)
            .bind(row.final_prompt)
            .bind(row.model)
            .bind("ab".repeat(32))
            .bind(row.created_at)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
    conn.execute("ANALYZE").await.unwrap();
}

async fn fill_postgres(url: &str, rows: usize) {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    for batch in batches(rows) {
        let column = |f: fn(&Row) -> String| batch.iter().map(f).collect::<Vec<_>>();
        let (ids, keys, prompts, finals, models) = (
            column(|r| r.id.clone()),
            column(|r| r.key.clone()),
            column(|r| r.prompt.clone()),
            column(|r| r.final_prompt.clone()),
            column(|r| r.model.to_owned()),
        );
        let times: Vec<i64> = batch.iter().map(|r| r.created_at).collect();
        sqlx::query(&format!(
            "INSERT INTO images ({COLUMNS}) SELECT id, key, p, f, NULL, m, 'bench', 1, NULL, 1024, 1024, 'png', 1000, \
             repeat('ab', 32), t, 'off' FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) \
             AS u(id, key, p, f, m, t)"
        ))
        .bind(&ids)
        .bind(&keys)
        .bind(&prompts)
        .bind(&finals)
        .bind(&models)
        .bind(&times)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    conn.execute("VACUUM ANALYZE images").await.unwrap();
}

/// (median, 95th percentile, rows found) of `query` over several runs, after one to warm up.
async fn time(catalog: &dyn Catalog, query: &PageQuery<'_>) -> (Duration, Duration, usize) {
    const RUNS: usize = 21;
    let found = catalog.page(query).await.unwrap().len();
    let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        catalog.page(query).await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    (times[RUNS / 2], times[RUNS * 95 / 100], found)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let rows: usize = std::env::var("BENCH_CATALOG_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    // BENCH_CATALOG_SQLITE (a file) and BENCH_CATALOG_POSTGRES (a database URL) keep the filled
    // catalogs between runs: an existing one is used as it is.
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var("BENCH_CATALOG_SQLITE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("bench.db"));
    let filled = path.exists();
    SqliteCatalog::open(&path).await.unwrap().close().await;
    if !filled {
        let started = Instant::now();
        fill_sqlite(&path, rows).await;
        eprintln!(
            "SQLite: {rows} images loaded in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    let sqlite: Arc<dyn Catalog> = Arc::new(SqliteCatalog::open(&path).await.unwrap());

    let (url, filled) = match std::env::var("BENCH_CATALOG_POSTGRES") {
        Ok(url) => (url, true),
        Err(_) => (testing::postgres_database().await, false),
    };
    PgCatalog::open(&url).await.unwrap().close().await;
    if !filled {
        let started = Instant::now();
        fill_postgres(&url, rows).await;
        eprintln!(
            "PostgreSQL: {rows} images loaded in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        eprintln!("(kept at {url} while its server runs)");
    }
    let postgres: Arc<dyn Catalog> = Arc::new(PgCatalog::open(&url).await.unwrap());

    println!("{rows} images; median / p95 in ms, rows found (page of 48); target ≤ 20 ms");
    println!("| query | SQLite | PostgreSQL | found |");
    println!("| --- | --- | --- | --- |");
    let mut worst = Duration::ZERO;
    for (name, query) in queries() {
        let (lite_median, lite_p95, found) = time(sqlite.as_ref(), &query).await;
        let (pg_median, pg_p95, pg_found) = time(postgres.as_ref(), &query).await;
        assert_eq!(found, pg_found, "{name}: the backends disagree");
        worst = worst.max(lite_median).max(pg_median);
        println!(
            "| {name} | {} / {} | {} / {} | {found} |",
            ms(lite_median),
            ms(lite_p95),
            ms(pg_median),
            ms(pg_p95)
        );
    }
    println!("slowest median: {} ms", ms(worst));
}
