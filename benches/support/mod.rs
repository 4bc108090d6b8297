//! Shared by the criterion benches: a Criterion configured from the command line, with the
//! embedded report font registered.

use criterion::Criterion;

/// Registers the embedded font (criterion's plotters backend needs one with the ab_glyph
/// feature) and returns a Criterion configured from the command-line arguments.
pub fn criterion() -> Criterion {
    let font = include_bytes!("../../assets/DejaVuSans.ttf");
    if plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, font)
        .is_err()
    {
        eprintln!("could not register the report font; continuing");
    }
    Criterion::default().configure_from_args()
}
