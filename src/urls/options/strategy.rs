//! Transform options for property tests, one strategy for every suite: the grammar's own (whole ranges)
//! and the derivative key's (`server::engine::derive`: a few values around its source's size).

use std::fmt::Debug;

use proptest::prelude::*;
use proptest::sample::select;

use super::{
    Fit, Flip, Gravity, Milli, OutputFormat, Rgba, TransformOptions, Trim, MAX_DIMENSION, OPTIONS,
};

/// Every option, each given or not, from anywhere in its range.
pub(crate) fn transform_options() -> impl Strategy<Value = TransformOptions> {
    drawn(None)
}

/// Every option, each given or not, from a few values for an image of `width` × `height`: sides from a
/// quarter of its width to twice it, its width give or take one and its height among them; each
/// filter, blur and rotation at its default or one other value; a trim of nothing or a few pixels. Two
/// draws then often make the same output by different routes (`sharpen=0` or none, the source's own
/// width or none), as properties of derivative keys need.
pub(crate) fn transform_options_around(
    width: u32,
    height: u32,
) -> impl Strategy<Value = TransformOptions> {
    drawn(Some((width, height)))
}

/// `options` with the options whose bit is set in `mask` (bit `i` for [`OPTIONS`]`[i]`) as in `other`.
pub(crate) fn mixed(
    options: &TransformOptions,
    other: &TransformOptions,
    mask: u32,
) -> TransformOptions {
    let mut mixed = options.clone();
    for (bit, option) in OPTIONS.iter().enumerate() {
        if mask & (1 << bit) != 0 {
            (option.copy)(&mut mixed, other);
        }
    }
    mixed
}

/// Masks for [`mixed`]: one option as often as any set of them.
pub(crate) fn masks() -> impl Strategy<Value = u32> {
    let count = OPTIONS.len() as u32;
    prop_oneof![(0..count).prop_map(|bit| 1u32 << bit), 0..1u32 << count]
}

/// Every option from its whole range, or from a few values around a source of this size.
fn drawn(around: Option<(u32, u32)>) -> impl Strategy<Value = TransformOptions> {
    // One option: a strategy for its values, or the few to choose from around a source.
    fn value<T: Clone + Debug + 'static>(
        around: Option<(u32, u32)>,
        anywhere: impl Strategy<Value = T> + 'static,
        few: &[T],
    ) -> BoxedStrategy<T> {
        match around {
            None => anywhere.boxed(),
            Some(_) => select(few.to_vec()).boxed(),
        }
    }
    let milli = |min: u32, max: u32| (min..=max).prop_map(Milli);
    let side = || match around {
        None => (1..=MAX_DIMENSION).boxed(),
        Some((width, height)) => {
            let (under, over) = (width.saturating_sub(1), width + 1);
            let mut sides = vec![
                width / 4,
                width / 2,
                height,
                under,
                width,
                over,
                width * 5 / 4,
                width * 2,
            ];
            sides.retain(|side| (1..=MAX_DIMENSION).contains(side));
            sides.dedup();
            select(sides).boxed()
        }
    };
    let gravity = prop_oneof![
        select(Gravity::NAMED.to_vec()),
        (milli(0, 1000), milli(0, 1000)).prop_map(|(x, y)| Gravity::Point(x, y)),
    ];
    let side_trim = || 0..=MAX_DIMENSION;
    let trim = (side_trim(), side_trim(), side_trim(), side_trim()).prop_map(
        |(top, right, bottom, left)| Trim {
            top,
            right,
            bottom,
            left,
        },
    );
    let parts = vec![
        given(side(), |o, v| o.width = Some(v)),
        given(side(), |o, v| o.height = Some(v)),
        given(
            value(around, milli(1000, 3000), &[1000, 1500, 2000].map(Milli)),
            |o, v| o.dpr = Some(v),
        ),
        given(select(Fit::ALL.to_vec()), |o, v| o.fit = Some(v)),
        given(
            value(
                around,
                gravity,
                &[
                    Gravity::Auto,
                    Gravity::Center,
                    Gravity::Left,
                    Gravity::Bottom,
                    Gravity::Point(Milli(200), Milli(700)),
                ],
            ),
            |o, v| o.gravity = Some(v),
        ),
        given(value(around, 1u8..=100, &[50, 85, 90]), |o, v| {
            o.quality = Some(v)
        }),
        given(
            value(
                around,
                select(OutputFormat::ALL.to_vec()),
                &[OutputFormat::Auto, OutputFormat::Jpeg],
            ),
            |o, v| o.format = Some(v),
        ),
        given(value(around, 1u8..=250, &[0, 3]), |o, v| o.blur = Some(v)),
        given(
            value(around, milli(0, 10_000), &[0, 1500].map(Milli)),
            |o, v| o.sharpen = Some(v),
        ),
        given(
            value(around, milli(0, 10_000), &[1000, 500].map(Milli)),
            |o, v| o.brightness = Some(v),
        ),
        given(
            value(around, milli(0, 10_000), &[1000, 1500].map(Milli)),
            |o, v| o.contrast = Some(v),
        ),
        given(
            value(around, milli(1, 10_000), &[1000, 2200].map(Milli)),
            |o, v| o.gamma = Some(v),
        ),
        given(
            value(around, milli(0, 10_000), &[1000, 0].map(Milli)),
            |o, v| o.saturation = Some(v),
        ),
        given(
            value(around, select(vec![0u16, 90, 180, 270]), &[0, 90]),
            |o, v| o.rotate = Some(v),
        ),
        given(
            value(around, select(Flip::ALL.to_vec()), &[Flip::Horizontal]),
            |o, v| o.flip = Some(v),
        ),
        given(
            value(
                around,
                any::<(u8, u8, u8, u8)>().prop_map(|(r, g, b, a)| Rgba(r, g, b, a)),
                &[
                    Rgba(255, 255, 255, 255),
                    Rgba(255, 0, 0, 255),
                    Rgba(0, 0, 255, 128),
                ],
            ),
            |o, v| o.background = Some(v),
        ),
        given(
            value(
                around,
                trim,
                &[
                    Trim::default(),
                    Trim {
                        top: 2,
                        right: 3,
                        bottom: 4,
                        left: 5,
                    },
                ],
            ),
            |o, v| o.trim = Some(v),
        ),
    ];
    parts.prop_map(|parts| {
        let mut all = TransformOptions::default();
        for part in &parts {
            for option in OPTIONS.iter().filter(|o| (o.print)(part).is_some()) {
                (option.copy)(&mut all, part);
            }
        }
        all
    })
}

/// Options with one field given by `set` from `values`, or none.
fn given<T: Clone + Debug + 'static>(
    values: impl Strategy<Value = T> + 'static,
    set: fn(&mut TransformOptions, T),
) -> BoxedStrategy<TransformOptions> {
    proptest::option::of(values)
        .prop_map(move |value| {
            let mut options = TransformOptions::default();
            if let Some(value) = value {
                set(&mut options, value);
            }
            options
        })
        .boxed()
}

mod tests {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    use super::*;

    /// Each strategy gives every option (a new row needs a line in [`drawn`]), and leaves each out.
    #[test]
    fn every_option_is_drawn() {
        let mut runner = TestRunner::deterministic();
        for strategy in [
            transform_options().boxed(),
            transform_options_around(48, 36).boxed(),
        ] {
            let (mut set, mut left_out) = ([false; OPTIONS.len()], [false; OPTIONS.len()]);
            for _ in 0..200 {
                let options = strategy.new_tree(&mut runner).unwrap().current();
                for (i, option) in OPTIONS.iter().enumerate() {
                    match (option.print)(&options) {
                        Some(_) => set[i] = true,
                        None => left_out[i] = true,
                    }
                }
            }
            for (i, option) in OPTIONS.iter().enumerate() {
                assert!(set[i] && left_out[i], "{}", option.name);
            }
        }
    }

    #[test]
    fn sides_around_a_source() {
        let mut runner = TestRunner::deterministic();
        let mut widths = std::collections::BTreeSet::new();
        for _ in 0..400 {
            let options = transform_options_around(48, 36)
                .new_tree(&mut runner)
                .unwrap()
                .current();
            widths.extend(options.width);
        }
        assert_eq!(
            widths.into_iter().collect::<Vec<_>>(),
            [12, 24, 36, 47, 48, 49, 60, 96]
        );
    }

    proptest! {
        #[test]
        fn a_mix_has_each_option_from_one_side(
            a in transform_options(),
            b in transform_options(),
            mask in masks(),
        ) {
            let mix = mixed(&a, &b, mask);
            for (bit, option) in OPTIONS.iter().enumerate() {
                let from = if mask & (1 << bit) != 0 { &b } else { &a };
                prop_assert_eq!((option.print)(&mix), (option.print)(from), "{}", option.name);
            }
        }
    }

    #[test]
    fn mixing_takes_the_options_a_mask_names() {
        let a = TransformOptions::parse("width=10,blur=3,trim=1;1;1;1").unwrap();
        let b = TransformOptions::parse("height=20,blur=5,sharpen=2").unwrap();
        let bit = |name: &str| 1 << OPTIONS.iter().position(|o| o.name == name).unwrap();
        assert_eq!(mixed(&a, &b, 0), a);
        assert_eq!(
            mixed(&a, &b, bit("width") | bit("blur") | bit("sharpen")).to_string(),
            "blur=5,sharpen=2,trim=1;1;1;1"
        );
        assert_eq!(mixed(&a, &b, (1 << OPTIONS.len()) - 1), b);
    }
}
