//! The builtin renderer at 1024×1024, one prompt per composition style, and the PNG encode after it.
//! Target: render ≤ 20 ms per image in release. Run with `make bench`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use pixzoo::server::providers::builtin::encode_png;
use pixzoo::server::providers::builtin::render::{render, style_of, Scene};
use std::hint::black_box;

const PROMPTS: [&str; 4] = [
    "a red panda reading a book",
    "robot barista",
    "mountain cabin in winter",
    "sunglasses sloth",
];

fn scene(prompt: &str) -> Scene<'_> {
    Scene {
        prompt,
        seed: 7,
        width: 1024,
        height: 1024,
    }
}

fn builtin(c: &mut Criterion) {
    let mut group = c.benchmark_group("builtin 1024x1024");
    for prompt in PROMPTS {
        let label = format!("{:?}", style_of(prompt)).to_lowercase();
        group.bench_with_input(BenchmarkId::new("render", label), prompt, |b, prompt| {
            b.iter(|| render(black_box(&scene(prompt))).expect("renders"))
        });
    }
    let pixmap = render(&scene(PROMPTS[0])).expect("renders");
    group.bench_function("encode png", |b| {
        b.iter(|| encode_png(black_box(pixmap.data()), 1024, 1024).expect("encodes"))
    });
    group.finish();
}

criterion_group!(benches, builtin);
criterion_main!(benches);
