//! QR codes for shared links, for a phone held up at a desk.

use qrcode::render::svg;
use qrcode::QrCode;

/// The text as a QR code, as inline SVG markup.
pub fn svg(text: &str) -> String {
    match QrCode::new(text.as_bytes()) {
        Ok(code) => code.render::<svg::Color>().min_dimensions(200, 200).quiet_zone(true).build(),
        Err(_) => String::new(),
    }
}
