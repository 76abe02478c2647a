//! The mask painter: the source image with a canvas over it, painted with pointer events (a mouse, a
//! pen, or a finger: `touch-action: none` keeps the page from scrolling under the brush). Strokes are
//! drawn in a visible colour; the mask sent is white where painted on black ([`export`]). The canvas
//! has the image's own pixels (at most [`MAX_SIDE`] on the long side), so a stroke lands where it
//! was drawn whatever size the image is shown at. What is painted is kept in the studio's state as a
//! PNG data URL, so it survives leaving the page.

use leptos::html::Canvas;
use leptos::prelude::*;

use crate::ui::state::studio_state;

/// The longest side of the mask canvas: the server scales masks to the source anyway.
pub const MAX_SIDE: u32 = 1024;
const STROKE: &str = "rgb(124 58 237)";

const TOOL: &str = "rounded-md border border-stone-300 px-2 py-1 text-xs focus-visible:outline-2 focus-visible:outline-violet-500 aria-pressed:border-violet-600 aria-pressed:bg-violet-50 dark:border-stone-700 dark:aria-pressed:bg-violet-950";

/// The canvas's pixel size for an image of `width` × `height`.
fn canvas_size(width: u32, height: u32) -> (u32, u32) {
    let long = width.max(height).max(1);
    if long <= MAX_SIDE {
        (width.max(1), height.max(1))
    } else {
        let scale = f64::from(MAX_SIDE) / f64::from(long);
        (
            ((f64::from(width) * scale).round() as u32).max(1),
            ((f64::from(height) * scale).round() as u32).max(1),
        )
    }
}

#[component]
pub fn MaskPainter(source_url: String) -> impl IntoView {
    let state = studio_state();
    let canvas = NodeRef::<Canvas>::new();
    let brush = RwSignal::new(32u32);
    let eraser = RwSignal::new(false);
    let drawing = RwSignal::new(false);
    let last = RwSignal::new(None::<(f64, f64)>);
    let sized = RwSignal::new(false);

    // The canvas takes the image's size once it has loaded, and what was painted before comes back.
    let on_load = move |ev: leptos::ev::Event| {
        let (w, h) = image_size(&ev);
        if let Some(canvas) = canvas.get_untracked() {
            let (cw, ch) = canvas_size(w, h);
            canvas.set_width(cw);
            canvas.set_height(ch);
            sized.set(true);
            if let Some(saved) = state.mask.get_untracked() {
                restore(&canvas, &saved);
            }
        }
    };
    let stroke = move |ev: &leptos::ev::PointerEvent| {
        if let Some(canvas) = canvas.get_untracked() {
            let at = point(&canvas, ev);
            paint(
                &canvas,
                last.get_untracked().unwrap_or(at),
                at,
                brush.get_untracked(),
                eraser.get_untracked(),
            );
            last.set(Some(at));
        }
    };
    let save = move || {
        if let Some(canvas) = canvas.get_untracked() {
            state.mask.set(canvas.to_data_url().ok());
        }
    };
    let end = move |_| {
        if drawing.get_untracked() {
            drawing.set(false);
            last.set(None);
            save();
        }
    };
    let clear = move |_| {
        if let Some(canvas) = canvas.get_untracked() {
            if let Some(ctx) = context(&canvas) {
                ctx.clear_rect(
                    0.0,
                    0.0,
                    f64::from(canvas.width()),
                    f64::from(canvas.height()),
                );
            }
        }
        state.mask.set(None);
    };
    let invert = move |_| {
        if let Some(canvas) = canvas.get_untracked() {
            if let Some(ctx) = context(&canvas) {
                // XOR with a full rectangle: painted becomes clear, clear becomes painted.
                let _ = ctx.set_global_composite_operation("xor");
                ctx.set_fill_style_str(STROKE);
                ctx.fill_rect(
                    0.0,
                    0.0,
                    f64::from(canvas.width()),
                    f64::from(canvas.height()),
                );
                let _ = ctx.set_global_composite_operation("source-over");
            }
            save();
        }
    };

    view! {
        <div class="grid gap-2">
            <div class="relative">
                <img data-testid="edit-source" src=source_url alt="The image to edit" on:load=on_load
                    class="block h-auto w-full select-none rounded-xl bg-stone-200 dark:bg-stone-800" draggable="false" />
                <canvas node_ref=canvas data-testid="mask-canvas" aria-label="Mask: paint where the image should change"
                    class="absolute inset-0 h-full w-full cursor-crosshair rounded-xl opacity-60"
                    style="touch-action: none"
                    on:pointerdown=move |ev| {
                        ev.prevent_default();
                        if let Some(canvas) = canvas.get_untracked() {
                            let _ = canvas.set_pointer_capture(ev.pointer_id());
                        }
                        drawing.set(true);
                        last.set(None);
                        stroke(&ev);
                    }
                    on:pointermove=move |ev| if drawing.get_untracked() { stroke(&ev) }
                    on:pointerup=end
                    on:pointercancel=end
                    on:lostpointercapture=end></canvas>
            </div>
            <div class="flex flex-wrap items-center gap-2 text-sm" role="group" aria-label="Mask tools">
                <label class="flex items-center gap-2">"Brush"
                    <input type="range" min="4" max="160" prop:value=move || brush.get().to_string()
                        on:input=move |ev| if let Ok(v) = event_target_value(&ev).parse() { brush.set(v) } />
                </label>
                <button type="button" class=TOOL aria-pressed=move || (!eraser.get()).to_string() on:click=move |_| eraser.set(false)>"Paint"</button>
                <button type="button" class=TOOL aria-pressed=move || eraser.get().to_string() on:click=move |_| eraser.set(true)>"Erase"</button>
                <button type="button" class=TOOL on:click=invert>"Invert"</button>
                <button type="button" class=TOOL on:click=clear>"Clear"</button>
                <span class="text-xs text-stone-500 dark:text-stone-400">
                    {move || if state.mask.get().is_some() { "Only the painted part changes." } else { "Paint to change only part of the image; leave it empty to change it all." }}
                </span>
            </div>
        </div>
    }
}

fn context(canvas: &web_sys::HtmlCanvasElement) -> Option<web_sys::CanvasRenderingContext2d> {
    use leptos::wasm_bindgen::JsCast;
    canvas.get_context("2d").ok()??.dyn_into().ok()
}

/// The loaded image's own size.
fn image_size(ev: &leptos::ev::Event) -> (u32, u32) {
    use leptos::wasm_bindgen::JsCast;
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlImageElement>().ok())
        .map_or((1, 1), |img| (img.natural_width(), img.natural_height()))
}

/// Where the pointer is, in the canvas's pixels.
fn point(canvas: &web_sys::HtmlCanvasElement, ev: &leptos::ev::PointerEvent) -> (f64, f64) {
    let rect = canvas.get_bounding_client_rect();
    let sx = f64::from(canvas.width()) / rect.width().max(1.0);
    let sy = f64::from(canvas.height()) / rect.height().max(1.0);
    (
        (f64::from(ev.client_x()) - rect.left()) * sx,
        (f64::from(ev.client_y()) - rect.top()) * sy,
    )
}

/// One segment of a stroke, `brush` CSS pixels wide at the size shown.
fn paint(
    canvas: &web_sys::HtmlCanvasElement,
    from: (f64, f64),
    to: (f64, f64),
    brush: u32,
    eraser: bool,
) {
    let Some(ctx) = context(canvas) else {
        return;
    };
    let shown = canvas.get_bounding_client_rect().width().max(1.0);
    let width = f64::from(brush) * f64::from(canvas.width()) / shown;
    let _ = ctx.set_global_composite_operation(if eraser {
        "destination-out"
    } else {
        "source-over"
    });
    ctx.set_stroke_style_str(STROKE);
    ctx.set_line_width(width);
    ctx.set_line_cap("round");
    ctx.set_line_join("round");
    ctx.begin_path();
    ctx.move_to(from.0, from.1);
    ctx.line_to(to.0, to.1);
    ctx.stroke();
    let _ = ctx.set_global_composite_operation("source-over");
}

/// Draws a saved mask back onto the canvas once it has decoded.
fn restore(canvas: &web_sys::HtmlCanvasElement, data_url: &str) {
    use leptos::wasm_bindgen::closure::Closure;
    use leptos::wasm_bindgen::JsCast;
    let Ok(image) = web_sys::HtmlImageElement::new() else {
        return;
    };
    let (canvas, shown) = (canvas.clone(), image.clone());
    let onload = Closure::once_into_js(move || {
        if let Some(ctx) = context(&canvas) {
            let _ = ctx.draw_image_with_html_image_element_and_dw_and_dh(
                &shown,
                0.0,
                0.0,
                f64::from(canvas.width()),
                f64::from(canvas.height()),
            );
        }
    });
    image.set_onload(Some(onload.unchecked_ref()));
    image.set_src(data_url);
}

/// The mask as the server takes it: a PNG, white where painted, black elsewhere, or `None` when
/// nothing is painted.
pub async fn export(data_url: &str) -> Option<web_sys::Blob> {
    use leptos::wasm_bindgen::closure::Closure;
    use leptos::wasm_bindgen::JsCast;
    let document = web_sys::window()?.document()?;
    let image = web_sys::HtmlImageElement::new().ok()?;
    let (loaded, wait) = futures::channel::oneshot::channel::<()>();
    let onload = Closure::once_into_js(move || {
        let _ = loaded.send(());
    });
    image.set_onload(Some(onload.unchecked_ref()));
    image.set_src(data_url);
    wait.await.ok()?;
    let out: web_sys::HtmlCanvasElement =
        document.create_element("canvas").ok()?.dyn_into().ok()?;
    out.set_width(image.natural_width());
    out.set_height(image.natural_height());
    let ctx = context(&out)?;
    let (w, h) = (f64::from(out.width()), f64::from(out.height()));
    ctx.draw_image_with_html_image_element(&image, 0.0, 0.0)
        .ok()?;
    // Painted pixels white (keeping their coverage), then black behind everything.
    ctx.set_global_composite_operation("source-in").ok()?;
    ctx.set_fill_style_str("white");
    ctx.fill_rect(0.0, 0.0, w, h);
    ctx.set_global_composite_operation("destination-over")
        .ok()?;
    ctx.set_fill_style_str("black");
    ctx.fill_rect(0.0, 0.0, w, h);
    let (sent, blob) = futures::channel::oneshot::channel::<Option<web_sys::Blob>>();
    let callback = Closure::once_into_js(move |blob: Option<web_sys::Blob>| {
        let _ = sent.send(blob);
    });
    out.to_blob(callback.unchecked_ref()).ok()?;
    blob.await.ok()?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canvas_keeps_the_shape_within_its_longest_side() {
        assert_eq!(canvas_size(800, 600), (800, 600));
        assert_eq!(canvas_size(4000, 3000), (1024, 768));
        assert_eq!(canvas_size(100, 5000), (20, 1024));
        assert_eq!(canvas_size(0, 0), (1, 1));
    }
}
