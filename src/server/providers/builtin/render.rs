//! The placeholder scene: a background gradient, a composition of shapes, the prompt and size in a panel,
//! and a mark saying this is a placeholder render.
//!
//! The prompt's hash picks the palette and the composition style; (prompt, seed) drives every random
//! choice, so the same inputs give the same pixels and different prompts look different.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};
use tiny_skia::{
    Color, FillRule, GradientStop, LinearGradient, Paint, Path, PathBuilder, Pixmap, Point,
    RadialGradient, Rect, Shader, SpreadMode, Stroke, Transform,
};

use super::palette::{palette, Palette, Rgb};
use super::text::font;

/// What to draw.
#[derive(Debug, Clone, Copy)]
pub struct Scene<'a> {
    pub prompt: &'a str,
    pub seed: u32,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot allocate a {width}x{height} canvas")]
pub struct CanvasError {
    width: u32,
    height: u32,
}

/// The mark on every image, longest first: the first that fits is drawn.
const MARKS: [&str; 2] = ["PLACEHOLDER · NOT AN AI IMAGE", "PLACEHOLDER"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Orbs,
    Hills,
    Shards,
    Rings,
}

/// The composition a prompt gets.
pub fn style_of(prompt: &str) -> Style {
    style_for(&Sha256::digest(prompt.as_bytes()).into())
}

fn style_for(digest: &[u8; 32]) -> Style {
    [Style::Orbs, Style::Hills, Style::Shards, Style::Rings][usize::from(digest[31] % 4)]
}

pub fn render(scene: &Scene) -> Result<Pixmap, CanvasError> {
    let mut pixmap = Pixmap::new(scene.width, scene.height).ok_or(CanvasError {
        width: scene.width,
        height: scene.height,
    })?;
    let digest: [u8; 32] = Sha256::digest(scene.prompt.as_bytes()).into();
    let colours = palette(&digest);
    let style = style_for(&digest);
    let mut rng = ChaCha8Rng::from_seed(
        Sha256::new()
            .chain_update(digest)
            .chain_update(scene.seed.to_le_bytes())
            .finalize()
            .into(),
    );
    let canvas = Canvas {
        w: scene.width as f32,
        h: scene.height as f32,
    };

    background(&mut pixmap, canvas, &colours, &mut rng);
    match style {
        Style::Orbs => orbs(&mut pixmap, canvas, &colours, &mut rng),
        Style::Hills => hills(&mut pixmap, canvas, &colours, &mut rng),
        Style::Shards => shards(&mut pixmap, canvas, &colours, &mut rng),
        Style::Rings => rings(&mut pixmap, canvas, &colours, &mut rng),
    }
    decorate(&mut pixmap, scene);
    Ok(pixmap)
}

/// The prompt panel and the placeholder mark, drawn over a picture (a render or an edit).
pub fn decorate(pixmap: &mut Pixmap, scene: &Scene) {
    let canvas = Canvas {
        w: scene.width as f32,
        h: scene.height as f32,
    };
    caption(pixmap, canvas, scene);
    mark(pixmap, canvas);
}

#[derive(Debug, Clone, Copy)]
struct Canvas {
    w: f32,
    h: f32,
}

impl Canvas {
    fn short_side(self) -> f32 {
        self.w.min(self.h)
    }
}

fn colour(rgb: Rgb, alpha: f32) -> Color {
    Color::from_rgba8(rgb.0, rgb.1, rgb.2, (alpha.clamp(0.0, 1.0) * 255.0) as u8)
}

fn shaded(shader: Shader<'static>) -> Paint<'static> {
    Paint {
        shader,
        anti_alias: true,
        ..Paint::default()
    }
}

fn solid(c: Color) -> Paint<'static> {
    let mut paint = Paint {
        anti_alias: true,
        ..Paint::default()
    };
    paint.set_color(c);
    paint
}

fn fill(pixmap: &mut Pixmap, path: &Path, paint: &Paint) {
    pixmap.fill_path(path, paint, FillRule::Winding, Transform::identity(), None);
}

fn background(pixmap: &mut Pixmap, c: Canvas, colours: &Palette, rng: &mut ChaCha8Rng) {
    let angle = rng.random_range(0.0..std::f32::consts::TAU);
    let (dx, dy) = (angle.cos() * c.w / 2.0, angle.sin() * c.h / 2.0);
    let (cx, cy) = (c.w / 2.0, c.h / 2.0);
    let shader = LinearGradient::new(
        Point::from_xy(cx - dx, cy - dy),
        Point::from_xy(cx + dx, cy + dy),
        vec![
            GradientStop::new(0.0, colour(colours.sky[0], 1.0)),
            GradientStop::new(1.0, colour(colours.sky[1], 1.0)),
        ],
        SpreadMode::Pad,
        Transform::identity(),
    );
    let paint = shader.map_or_else(|| solid(colour(colours.sky[0], 1.0)), shaded);
    if let Some(rect) = Rect::from_xywh(0.0, 0.0, c.w, c.h) {
        pixmap.fill_rect(rect, &paint, Transform::identity(), None);
    }
}

/// Soft glowing discs.
fn orbs(pixmap: &mut Pixmap, c: Canvas, colours: &Palette, rng: &mut ChaCha8Rng) {
    // Radial gradients are the costliest fill: count and size are bounded to keep 1024² under 20 ms.
    for i in 0..rng.random_range(4..=7) {
        let (x, y) = (rng.random_range(0.0..c.w), rng.random_range(0.0..c.h));
        let r = c.short_side() * rng.random_range(0.1..0.34);
        let accent = colours.accents[i % 4];
        let shader = RadialGradient::new(
            Point::from_xy(x, y),
            Point::from_xy(x, y),
            r,
            vec![
                GradientStop::new(0.0, colour(accent, 0.95)),
                GradientStop::new(0.7, colour(accent, 0.55)),
                GradientStop::new(1.0, colour(accent, 0.0)),
            ],
            SpreadMode::Pad,
            Transform::identity(),
        );
        if let (Some(shader), Some(circle)) = (shader, PathBuilder::from_circle(x, y, r)) {
            fill(pixmap, &circle, &shaded(shader));
        }
    }
}

/// Layered rolling hills, the farthest palest.
fn hills(pixmap: &mut Pixmap, c: Canvas, colours: &Palette, rng: &mut ChaCha8Rng) {
    let layers = rng.random_range(4..=6);
    for i in 0..layers {
        let depth = i as f32 / layers as f32;
        let base = c.h * (0.35 + 0.55 * depth);
        let amplitude = c.h * rng.random_range(0.03..0.10);
        let phase = rng.random_range(0.0..std::f32::consts::TAU);
        let waves = rng.random_range(1.0..2.5);
        let y_at =
            |x: f32| base + amplitude * (phase + x / c.w * waves * std::f32::consts::TAU).sin();
        let mut pb = PathBuilder::new();
        pb.move_to(0.0, c.h);
        pb.line_to(0.0, y_at(0.0));
        let steps = 8;
        for s in 1..=steps {
            let (x0, x1) = (
                (s - 1) as f32 * c.w / steps as f32,
                s as f32 * c.w / steps as f32,
            );
            let xm = (x0 + x1) / 2.0;
            // The control point that makes the quadratic pass through the midpoint sample.
            let ym = 2.0 * y_at(xm) - (y_at(x0) + y_at(x1)) / 2.0;
            pb.quad_to(xm, ym, x1, y_at(x1));
        }
        pb.line_to(c.w, c.h);
        pb.close();
        if let Some(path) = pb.finish() {
            fill(
                pixmap,
                &path,
                &solid(colour(colours.accents[i % 4], 0.55 + 0.45 * depth)),
            );
        }
    }
}

/// Overlapping translucent triangles.
fn shards(pixmap: &mut Pixmap, c: Canvas, colours: &Palette, rng: &mut ChaCha8Rng) {
    for i in 0..rng.random_range(7..=12) {
        let mut pb = PathBuilder::new();
        let (x, y) = (
            rng.random_range(-0.1..1.1) * c.w,
            rng.random_range(-0.1..1.1) * c.h,
        );
        pb.move_to(x, y);
        for _ in 0..2 {
            let reach = c.short_side() * 0.6;
            pb.line_to(
                x + rng.random_range(-reach..reach),
                y + rng.random_range(-reach..reach),
            );
        }
        pb.close();
        if let Some(path) = pb.finish() {
            let alpha = rng.random_range(0.45..0.8);
            fill(pixmap, &path, &solid(colour(colours.accents[i % 4], alpha)));
        }
    }
}

/// Concentric rings around one or two centres.
fn rings(pixmap: &mut Pixmap, c: Canvas, colours: &Palette, rng: &mut ChaCha8Rng) {
    for centre in 0..rng.random_range(1..=2) {
        let (x, y) = (
            rng.random_range(0.15..0.85) * c.w,
            rng.random_range(0.15..0.85) * c.h,
        );
        let spacing = c.short_side() * rng.random_range(0.05..0.09);
        let stroke = Stroke {
            width: spacing * rng.random_range(0.3..0.6),
            ..Stroke::default()
        };
        for ring in 1..=rng.random_range(5..=9) {
            if let Some(circle) = PathBuilder::from_circle(x, y, spacing * ring as f32) {
                let paint = solid(colour(colours.accents[(ring + centre) % 4], 0.75));
                pixmap.stroke_path(&circle, &paint, &stroke, Transform::identity(), None);
            }
        }
    }
}

fn rounded_rect(x: f32, y: f32, w: f32, h: f32, r: f32) -> Option<Path> {
    let r = r.min(w / 2.0).min(h / 2.0);
    let mut pb = PathBuilder::new();
    pb.move_to(x + r, y);
    pb.line_to(x + w - r, y);
    pb.quad_to(x + w, y, x + w, y + r);
    pb.line_to(x + w, y + h - r);
    pb.quad_to(x + w, y + h, x + w - r, y + h);
    pb.line_to(x + r, y + h);
    pb.quad_to(x, y + h, x, y + h - r);
    pb.line_to(x, y + r);
    pb.quad_to(x, y, x + r, y);
    pb.close();
    pb.finish()
}

/// White text with a soft shadow, readable on any background.
fn text(pixmap: &mut Pixmap, line: &str, px: f32, x: f32, baseline: f32, alpha: f32) {
    if let Some(path) = font().path(line, px, x, baseline) {
        let offset = (px * 0.06).max(1.0);
        pixmap.fill_path(
            &path,
            &solid(Color::from_rgba8(0, 0, 0, (alpha * 110.0) as u8)),
            FillRule::Winding,
            Transform::from_translate(offset, offset),
            None,
        );
        fill(
            pixmap,
            &path,
            &solid(Color::from_rgba8(255, 255, 255, (alpha * 255.0) as u8)),
        );
    }
}

/// The prompt (up to three lines, shrunk to fit) and the size, in a translucent panel at the bottom.
fn caption(pixmap: &mut Pixmap, c: Canvas, scene: &Scene) {
    const MAX_LINES: usize = 3;
    if c.short_side() < 48.0 {
        return;
    }
    let font = font();
    let margin = c.short_side() * 0.05;
    let pad = c.short_side() * 0.035;
    let max_text_w = c.w - 2.0 * (margin + pad);
    let min_px = (c.short_side() * 0.045).max(7.0);
    let mut px = (c.short_side() * 0.085).clamp(min_px, 120.0);
    let prompt = font.drawable(scene.prompt);
    let mut lines = font.wrap(&prompt, px, max_text_w);
    while lines.len() > MAX_LINES && px > min_px {
        px = (px * 0.9).max(min_px);
        lines = font.wrap(&prompt, px, max_text_w);
    }
    if lines.len() > MAX_LINES {
        let rest = lines[MAX_LINES - 1..].join(" ");
        lines.truncate(MAX_LINES - 1);
        lines.push(font.ellipsize(&rest, px, max_text_w));
    }
    let label = format!("{} × {}", scene.width, scene.height);
    let label_px = (px * 0.5).max(min_px * 0.8);
    let line_h = font.line_height(px);
    let panel_h = 2.0 * pad + line_h * lines.len() as f32 + font.line_height(label_px) * 1.2;
    let panel_y = c.h - margin - panel_h;
    if panel_y < margin {
        return;
    }
    if let Some(panel) = rounded_rect(margin, panel_y, c.w - 2.0 * margin, panel_h, pad) {
        fill(pixmap, &panel, &solid(Color::from_rgba8(0, 0, 0, 105)));
    }
    let x = margin + pad;
    let mut baseline = panel_y + pad + font.ascent(px);
    for line in &lines {
        text(pixmap, line, px, x, baseline, 1.0);
        baseline += line_h;
    }
    baseline += font.line_height(label_px) * 0.2 + font.ascent(label_px) - font.ascent(px)
        + font.descent(px);
    text(pixmap, &label, label_px, x, baseline, 0.85);
}

/// The badge in the top-left corner that says what this is.
fn mark(pixmap: &mut Pixmap, c: Canvas) {
    if c.short_side() < 32.0 {
        return;
    }
    let font = font();
    let px = (c.short_side() * 0.028).max(7.0);
    let (margin, pad) = (c.short_side() * 0.03, px * 0.5);
    let Some(label) = MARKS
        .iter()
        .find(|m| margin + 2.0 * pad + font.width(m, px) <= c.w - margin)
    else {
        return;
    };
    let h = font.line_height(px) + pad;
    if let Some(pill) = rounded_rect(
        margin,
        margin,
        font.width(label, px) + 2.0 * pad,
        h,
        h / 2.0,
    ) {
        fill(pixmap, &pill, &solid(Color::from_rgba8(0, 0, 0, 140)));
    }
    text(
        pixmap,
        label,
        px,
        margin + pad,
        margin + pad / 2.0 + font.ascent(px),
        0.95,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixels(prompt: &str, seed: u32, width: u32, height: u32) -> Vec<u8> {
        render(&Scene {
            prompt,
            seed,
            width,
            height,
        })
        .unwrap()
        .data()
        .to_vec()
    }

    fn difference(a: &[u8], b: &[u8]) -> f64 {
        let total: u64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        total as f64 / a.len() as f64
    }

    #[test]
    fn same_inputs_same_pixels() {
        assert_eq!(
            pixels("a sloth", 7, 320, 240),
            pixels("a sloth", 7, 320, 240)
        );
    }

    #[test]
    fn prompts_and_seeds_change_the_picture() {
        let base = pixels("sunglasses sloth", 1, 320, 240);
        let other_prompt = pixels("a red panda in the snow", 1, 320, 240);
        let other_seed = pixels("sunglasses sloth", 2, 320, 240);
        assert!(
            difference(&base, &other_prompt) > 20.0,
            "prompts must look visibly different"
        );
        assert!(
            difference(&base, &other_seed) > 2.0,
            "seeds vary the composition"
        );
    }

    #[test]
    fn every_pixel_is_opaque_and_the_caption_is_drawn() {
        let data = pixels("hello", 3, 400, 300);
        assert!(data.chunks_exact(4).all(|p| p[3] == 255));
        // The caption panel's text is white: some nearly-white pixels must exist in the bottom third.
        let row = 400 * 4;
        let bottom = &data[row * 200..];
        assert!(bottom
            .chunks_exact(4)
            .any(|p| p[0] > 240 && p[1] > 240 && p[2] > 240));
    }

    #[test]
    fn the_benchmark_prompts_cover_every_style() {
        let styles = [
            "a red panda reading a book",
            "robot barista",
            "mountain cabin in winter",
            "sunglasses sloth",
        ]
        .map(style_of);
        assert_eq!(
            styles,
            [Style::Orbs, Style::Hills, Style::Shards, Style::Rings]
        );
    }

    #[test]
    fn extreme_sizes_render() {
        for (w, h) in [(1, 1), (1, 400), (400, 1), (31, 31), (48, 48), (4096, 16)] {
            let data = pixels(
                "a very long prompt that will never fit on a tiny canvas",
                0,
                w,
                h,
            );
            assert_eq!(data.len(), (w * h * 4) as usize);
        }
    }
}
